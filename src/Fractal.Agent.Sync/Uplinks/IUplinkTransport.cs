using Fractal.Contracts.Ingest;

namespace Fractal.Agent.Sync.Uplinks;

/// <summary>
/// One far side of the data path (the hub over gRPC, Kafka, S3). The uplink worker reads the
/// buffer by checkpoint, hands batches to the transport through the transport's own resilience
/// pipeline, and advances the checkpoint only after the call returns.
/// </summary>
/// <remarks>
/// Contract: a call returns only once the far side has durably acknowledged everything in it;
/// any failure throws (the worker retries the same batch). Delivery is at least once; every
/// record carries (node, stream, sequence) so the far side drops duplicates.
/// </remarks>
public interface IUplinkTransport
{
    /// <summary>Short, stable name used in checkpoints, metrics and configuration ("hub", "kafka", "s3").</summary>
    string Name { get; }

    /// <summary>Delivers one batch: one node, one stream, records in ascending sequence order.</summary>
    Task SendBatchAsync(RecordBatch batch, CancellationToken cancellationToken);

    /// <summary>Delivers loss-ledger entries (evictions, expiries) in ascending ledger id order.</summary>
    Task SendLossesAsync(LossReport report, CancellationToken cancellationToken);
}
