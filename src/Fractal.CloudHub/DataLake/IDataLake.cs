using Fractal.Contracts.Ingest;

namespace Fractal.CloudHub.DataLake;

/// <summary>
/// The hub's data lake: partitioned Parquet (stream/node/date) over a blob store. Every ingest
/// path (gRPC, Kafka) writes through this, so duplicate removal by (node, stream, sequence)
/// happens in one place.
/// </summary>
public interface IDataLake
{
    /// <summary>
    /// Durably appends one node's records of one stream (ascending sequences). Records already in
    /// the lake are dropped. Returns only after the new records are durable.
    /// </summary>
    Task<LakeAppendResult> AppendAsync(string nodeId, string stream, IReadOnlyList<SensorRecord> records, CancellationToken cancellationToken);

    /// <summary>Durably records a node's loss-ledger entries; entries already recorded are dropped.</summary>
    Task<int> AppendLossesAsync(string nodeId, IReadOnlyList<LossEntry> entries, CancellationToken cancellationToken);
}

/// <summary>Outcome of <see cref="IDataLake.AppendAsync"/>.</summary>
/// <param name="Accepted">Records newly written.</param>
/// <param name="Duplicates">Records dropped because the lake already had them.</param>
public readonly record struct LakeAppendResult(int Accepted, int Duplicates);
