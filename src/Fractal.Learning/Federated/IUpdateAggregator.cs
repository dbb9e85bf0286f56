namespace Fractal.Learning.Federated;

/// <summary>
/// Combines the clients' model updates (deltas: client weights minus the round's global weights)
/// into one aggregate delta.
/// </summary>
/// <remarks>
/// Aggregation is streaming: a session receives one flattened update at a time and never keeps
/// a list of updates in memory, so memory stays O(model size) whatever the number of clients.
/// Robust aggregators that need every value of a coordinate (median, trimmed mean) spool the
/// updates to disk and read them back in coordinate chunks; see <see cref="SpoolingOptions"/>.
/// </remarks>
public interface IUpdateAggregator
{
    /// <summary>Short name for logs and lineage records, e.g. <c>fedavg</c> or <c>median</c>.</summary>
    string Name { get; }

    /// <summary>Starts aggregating one round of updates of <paramref name="parameterCount"/> floats.</summary>
    IAggregationSession Begin(int parameterCount);
}

/// <summary>One round of aggregation. Thread-safe: updates may arrive from concurrent uploads.</summary>
public interface IAggregationSession : IDisposable
{
    /// <summary>Length of every update.</summary>
    int ParameterCount { get; }

    /// <summary>Updates added so far.</summary>
    int UpdateCount { get; }

    /// <summary>Total samples behind the updates added so far.</summary>
    long SampleCount { get; }

    /// <summary>Adds one client's update.</summary>
    /// <param name="delta">Client weights minus global weights, flattened in model order.</param>
    /// <param name="sampleCount">Number of training samples behind the update (its FedAvg weight).</param>
    /// <exception cref="ArgumentException">Wrong length, non-finite values, or a non-positive sample count.</exception>
    /// <exception cref="InvalidOperationException">The session was already completed.</exception>
    void Add(ReadOnlySpan<float> delta, long sampleCount);

    /// <summary>Writes the aggregate delta into <paramref name="aggregate"/> and closes the session.</summary>
    /// <exception cref="InvalidOperationException">No update was added, or the session was already completed.</exception>
    void Complete(Span<float> aggregate);
}
