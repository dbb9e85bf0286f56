namespace Fractal.Learning.Federated;

/// <summary>
/// Applies a round's aggregate delta to the global weights. Following Reddi et al., "Adaptive
/// Federated Optimization" (2021), the aggregate delta is a pseudo-gradient (pointing from the
/// global model towards the clients' models) and the server takes an optimizer step along it.
/// Stateful across rounds (momentum, moments); not thread-safe: one coordinator per job.
/// </summary>
public interface IServerOptimizer
{
    /// <summary>Short name for logs and lineage, e.g. <c>fedadam</c>.</summary>
    string Name { get; }

    /// <summary>Whether a step depends on earlier rounds (momentum, moment estimates), so that the weights alone cannot resume a run.</summary>
    bool KeepsStateAcrossRounds { get; }

    /// <summary>Updates <paramref name="weights"/> in place with the round's aggregate delta.</summary>
    void ApplyUpdate(Span<float> weights, ReadOnlySpan<float> aggregateDelta);
}

/// <summary>Plain FedAvg server step: weights += learningRate x delta (1 gives the weighted average of the clients' models).</summary>
public sealed class SgdServerOptimizer : IServerOptimizer
{
    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">Server learning rate; 1 is FedAvg.</param>
    public SgdServerOptimizer(double learningRate = 1.0)
    {
        ServerOptimizerChecks.Positive(learningRate, nameof(learningRate));
        LearningRate = learningRate;
    }

    /// <summary>Server learning rate.</summary>
    public double LearningRate { get; }

    /// <inheritdoc />
    public string Name => "sgd";

    /// <inheritdoc />
    public bool KeepsStateAcrossRounds => false;

    /// <inheritdoc />
    public void ApplyUpdate(Span<float> weights, ReadOnlySpan<float> aggregateDelta)
    {
        ServerOptimizerChecks.SameLength(weights, aggregateDelta);
        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] = (float)(weights[i] + (LearningRate * aggregateDelta[i]));
        }
    }
}

/// <summary>
/// FedAvgM (Hsu et al., "Measuring the Effects of Non-Identical Data Distribution", 2019):
/// v = momentum x v + delta; weights += learningRate x v.
/// </summary>
public sealed class MomentumServerOptimizer : IServerOptimizer
{
    private float[]? _velocity;

    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">Server learning rate.</param>
    /// <param name="momentum">Server momentum in [0, 1).</param>
    public MomentumServerOptimizer(double learningRate = 1.0, double momentum = 0.9)
    {
        ServerOptimizerChecks.Positive(learningRate, nameof(learningRate));
        ServerOptimizerChecks.UnitInterval(momentum, nameof(momentum));
        LearningRate = learningRate;
        Momentum = momentum;
    }

    /// <summary>Server learning rate.</summary>
    public double LearningRate { get; }

    /// <summary>Server momentum.</summary>
    public double Momentum { get; }

    /// <inheritdoc />
    public string Name => "fedavgm";

    /// <inheritdoc />
    public bool KeepsStateAcrossRounds => true;

    /// <inheritdoc />
    public void ApplyUpdate(Span<float> weights, ReadOnlySpan<float> aggregateDelta)
    {
        ServerOptimizerChecks.SameLength(weights, aggregateDelta);
        _velocity ??= new float[weights.Length];
        ServerOptimizerChecks.SameLength(_velocity, aggregateDelta);
        for (var i = 0; i < weights.Length; i++)
        {
            var v = (Momentum * _velocity[i]) + aggregateDelta[i];
            _velocity[i] = (float)v;
            weights[i] = (float)(weights[i] + (LearningRate * v));
        }
    }
}

/// <summary>
/// FedAdam (Reddi et al., 2021, Algorithm 2; no bias correction, as in the paper):
/// m = b1 m + (1 - b1) delta; v = b2 v + (1 - b2) delta^2; weights += lr m / (sqrt(v) + tau).
/// </summary>
public sealed class AdamServerOptimizer : IServerOptimizer
{
    private float[]? _m;
    private float[]? _v;

    /// <summary>Creates the optimizer.</summary>
    /// <param name="learningRate">Server learning rate (eta).</param>
    /// <param name="beta1">First-moment decay in [0, 1).</param>
    /// <param name="beta2">Second-moment decay in [0, 1).</param>
    /// <param name="tau">Adaptivity (epsilon) term; the paper uses 1e-3.</param>
    public AdamServerOptimizer(double learningRate = 0.01, double beta1 = 0.9, double beta2 = 0.99, double tau = 1e-3)
    {
        ServerOptimizerChecks.Positive(learningRate, nameof(learningRate));
        ServerOptimizerChecks.UnitInterval(beta1, nameof(beta1));
        ServerOptimizerChecks.UnitInterval(beta2, nameof(beta2));
        ServerOptimizerChecks.Positive(tau, nameof(tau));
        LearningRate = learningRate;
        Beta1 = beta1;
        Beta2 = beta2;
        Tau = tau;
    }

    /// <summary>Server learning rate.</summary>
    public double LearningRate { get; }

    /// <summary>First-moment decay.</summary>
    public double Beta1 { get; }

    /// <summary>Second-moment decay.</summary>
    public double Beta2 { get; }

    /// <summary>Adaptivity term.</summary>
    public double Tau { get; }

    /// <inheritdoc />
    public string Name => "fedadam";

    /// <inheritdoc />
    public bool KeepsStateAcrossRounds => true;

    /// <inheritdoc />
    public void ApplyUpdate(Span<float> weights, ReadOnlySpan<float> aggregateDelta)
    {
        ServerOptimizerChecks.SameLength(weights, aggregateDelta);
        _m ??= new float[weights.Length];
        _v ??= new float[weights.Length];
        ServerOptimizerChecks.SameLength(_m, aggregateDelta);
        for (var i = 0; i < weights.Length; i++)
        {
            double d = aggregateDelta[i];
            var m = (Beta1 * _m[i]) + ((1 - Beta1) * d);
            var v = (Beta2 * _v[i]) + ((1 - Beta2) * d * d);
            _m[i] = (float)m;
            _v[i] = (float)v;
            weights[i] = (float)(weights[i] + (LearningRate * m / (Math.Sqrt(v) + Tau)));
        }
    }
}

internal static class ServerOptimizerChecks
{
    public static void Positive(double value, string name)
    {
        if (!(value > 0) || double.IsInfinity(value))
        {
            throw new ArgumentOutOfRangeException(name, value, "Must be a positive finite number.");
        }
    }

    public static void UnitInterval(double value, string name)
    {
        if (!(value >= 0 && value < 1))
        {
            throw new ArgumentOutOfRangeException(name, value, "Must be in [0, 1).");
        }
    }

    public static void SameLength(ReadOnlySpan<float> weights, ReadOnlySpan<float> delta)
    {
        if (weights.Length != delta.Length)
        {
            throw new ArgumentException($"Delta has {delta.Length} parameters but the model has {weights.Length}.", nameof(delta));
        }
    }
}
