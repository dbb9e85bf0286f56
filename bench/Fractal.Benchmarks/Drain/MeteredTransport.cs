using Fractal.Agent.Sync.Uplinks;
using Fractal.Contracts.Ingest;

namespace Fractal.Benchmarks.Drain;

/// <summary>Wraps an uplink transport: counts batches and protobuf bytes, and signals when the last sequence is acknowledged.</summary>
internal sealed class MeteredTransport(IUplinkTransport inner, ulong lastSequence) : IUplinkTransport
{
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _batches;
    private long _protobufBytes;

    public string Name => inner.Name;

    public Task Drained => _drained.Task;

    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Serialized size of the batches handed to the transport (before any compression).</summary>
    public long ProtobufBytes => Interlocked.Read(ref _protobufBytes);

    public async Task SendBatchAsync(RecordBatch batch, CancellationToken cancellationToken)
    {
        await inner.SendBatchAsync(batch, cancellationToken);
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _protobufBytes, batch.CalculateSize());
        if (batch.Records[^1].Sequence >= lastSequence)
        {
            _drained.TrySetResult();
        }
    }

    public Task SendLossesAsync(LossReport report, CancellationToken cancellationToken) => inner.SendLossesAsync(report, cancellationToken);
}

/// <summary>Acknowledges at once: the drain limit of the buffer itself (read, batch, checkpoint, delete).</summary>
internal sealed class NullTransport : IUplinkTransport
{
    public string Name => "null";

    public Task SendBatchAsync(RecordBatch batch, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task SendLossesAsync(LossReport report, CancellationToken cancellationToken) => Task.CompletedTask;
}
