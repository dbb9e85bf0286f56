using System.Buffers;
using Fractal.Learning.Specs;

namespace Fractal.Learning.Federated;

/// <summary>
/// The server side of a federated job on flattened weights: holds the global model and the
/// server optimizer, and turns each round's client models into the next global model.
/// </summary>
/// <remarks>
/// Not thread-safe across rounds (one coordinator drives the job); a round itself accepts
/// concurrent uploads.
/// </remarks>
public sealed class FederatedServer
{
    private readonly float[] _weights;
    private readonly IServerOptimizer _optimizer;
    private int _openRound;

    /// <summary>Starts a job from <paramref name="initialWeights"/> (copied).</summary>
    public FederatedServer(FederatedStrategy strategy, ReadOnlySpan<float> initialWeights)
    {
        ArgumentNullException.ThrowIfNull(strategy);
        if (initialWeights.IsEmpty)
        {
            throw new ArgumentException("The model has no parameters.", nameof(initialWeights));
        }

        Strategy = strategy;
        _weights = initialWeights.ToArray();
        _optimizer = strategy.CreateServerOptimizer();
    }

    /// <summary>The strategy.</summary>
    public FederatedStrategy Strategy { get; }

    /// <summary>Rounds completed so far.</summary>
    public int CompletedRounds { get; private set; }

    /// <summary>The current global weights (read-only view; changes when a round completes).</summary>
    public ReadOnlySpan<float> Weights => _weights;

    /// <summary>Opens the next round; the previous one must be completed or disposed.</summary>
    public FederatedRound BeginRound()
    {
        if (_openRound != 0)
        {
            throw new InvalidOperationException($"Round {_openRound} is still open.");
        }

        var round = new FederatedRound(this, CompletedRounds + 1, Strategy.Aggregator.Begin(_weights.Length));
        _openRound = round.Number;
        return round;
    }

    internal void Close(FederatedRound round)
    {
        if (_openRound == round.Number)
        {
            _openRound = 0;
        }
    }

    internal void Apply(ReadOnlySpan<float> aggregateDelta)
    {
        _optimizer.ApplyUpdate(_weights, aggregateDelta);
        CompletedRounds++;
    }

    internal ReadOnlySpan<float> GlobalWeights => _weights;
}

/// <summary>One round: clients add their trained weights (or deltas), then the server completes it.</summary>
public sealed class FederatedRound : IDisposable
{
    private readonly FederatedServer _server;
    private readonly IAggregationSession _session;

    internal FederatedRound(FederatedServer server, int number, IAggregationSession session)
    {
        _server = server;
        Number = number;
        _session = session;
    }

    /// <summary>1-based round number.</summary>
    public int Number { get; }

    /// <summary>Client updates received.</summary>
    public int UpdateCount => _session.UpdateCount;

    /// <summary>Samples behind the received updates.</summary>
    public long SampleCount => _session.SampleCount;

    /// <summary>Adds a client's trained weights; the delta against the round's global weights is taken here.</summary>
    public void AddClientWeights(ReadOnlySpan<float> weights, long sampleCount)
    {
        var global = _server.GlobalWeights;
        if (weights.Length != global.Length)
        {
            throw new ArgumentException($"Client model has {weights.Length} parameters; the global model has {global.Length}.", nameof(weights));
        }

        var rented = ArrayPool<float>.Shared.Rent(weights.Length);
        try
        {
            var delta = rented.AsSpan(0, weights.Length);
            for (var i = 0; i < delta.Length; i++)
            {
                delta[i] = weights[i] - global[i];
            }

            _session.Add(delta, sampleCount);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }

    /// <summary>Adds a client's delta (trained weights minus the round's global weights).</summary>
    public void AddClientDelta(ReadOnlySpan<float> delta, long sampleCount) => _session.Add(delta, sampleCount);

    /// <summary>Aggregates, steps the global model and returns the new global weights (a copy).</summary>
    public float[] Complete()
    {
        var aggregate = new float[_session.ParameterCount];
        _session.Complete(aggregate);
        _server.Apply(aggregate);
        Dispose();
        return _server.Weights.ToArray();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _session.Dispose();
        _server.Close(this);
    }
}

/// <summary><see cref="FederatedServer"/> on <see cref="ModelParameters"/>.</summary>
public static class FederatedServerExtensions
{
    /// <summary>Adds a client's trained parameters (names and shapes must match the global model's).</summary>
    public static void AddClientParameters(this FederatedRound round, ModelParameters parameters, long sampleCount)
    {
        ArgumentNullException.ThrowIfNull(round);
        round.AddClientWeights(ParameterVectors.Flatten(parameters), sampleCount);
    }

    /// <summary>The global weights as parameters shaped like <paramref name="template"/>.</summary>
    public static ModelParameters GetParameters(this FederatedServer server, ModelParameters template)
    {
        ArgumentNullException.ThrowIfNull(server);
        return ParameterVectors.Unflatten(server.Weights, template);
    }
}
