namespace Fractal.CloudHub.DataLake;

/// <summary>
/// Read side of the data lake for operators, the REST API and tests. Reads go through the blob
/// store, so they see exactly what a Spark, DuckDB or pandas reader of the same files would see.
/// </summary>
public interface ILakeReader
{
    /// <summary>Counts records and losses per (stream, node).</summary>
    Task<LakeSummary> GetSummaryAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Reads records back from the Parquet files, optionally only one stream and/or one node.
    /// Records come file by file (partition, then sequence range); within a file in sequence order.
    /// </summary>
    IAsyncEnumerable<LakeRecord> ReadRecordsAsync(string? stream, string? nodeId, CancellationToken cancellationToken);

    /// <summary>Reads the loss ledger, optionally of one node only.</summary>
    Task<IReadOnlyList<LakeLossEntry>> ReadLossesAsync(string? nodeId, CancellationToken cancellationToken);
}

/// <summary>One record as stored in the lake.</summary>
/// <param name="NodeId">The node that produced it.</param>
/// <param name="Stream">The stream it belongs to.</param>
/// <param name="Sequence">Per-(node, stream) sequence number.</param>
/// <param name="Timestamp">When the node received it (node clock, UTC).</param>
/// <param name="Shape">Tensor shape.</param>
/// <param name="Values">The float32 values, product(shape) of them.</param>
/// <param name="Label">Class label, when the sensor supplied one.</param>
/// <param name="Priority">Stream priority at ingest.</param>
public sealed record LakeRecord(
    string NodeId,
    string Stream,
    ulong Sequence,
    DateTimeOffset Timestamp,
    IReadOnlyList<int> Shape,
    IReadOnlyList<float> Values,
    int? Label,
    int Priority);

/// <summary>One loss-ledger entry as stored in the lake.</summary>
/// <param name="NodeId">The reporting node.</param>
/// <param name="LedgerId">The node's ledger entry id; unique per node.</param>
/// <param name="Stream">The stream whose records were lost.</param>
/// <param name="Sequences">The lost sequences, ascending.</param>
/// <param name="Reason"><c>evicted</c> or <c>expired</c>.</param>
/// <param name="LostAt">When the node gave the records up (node clock).</param>
/// <param name="Bytes">Bytes the lost records occupied on the node.</param>
public sealed record LakeLossEntry(
    string NodeId,
    ulong LedgerId,
    string Stream,
    IReadOnlyList<ulong> Sequences,
    string Reason,
    DateTimeOffset LostAt,
    ulong Bytes);

/// <summary>Counts over the whole lake.</summary>
/// <param name="Partitions">One row per (stream, node) that has records or losses, ordered by stream then node.</param>
/// <param name="TotalRecords">Sum of <see cref="LakePartitionSummary.Records"/>.</param>
/// <param name="TotalLostRecords">Sum of <see cref="LakePartitionSummary.LostRecords"/>.</param>
public sealed record LakeSummary(IReadOnlyList<LakePartitionSummary> Partitions, long TotalRecords, long TotalLostRecords);

/// <summary>Counts for one (stream, node).</summary>
/// <param name="Stream">Stream name.</param>
/// <param name="NodeId">Node id.</param>
/// <param name="Records">Records stored.</param>
/// <param name="Files">Parquet files holding them.</param>
/// <param name="HighWaterMark">Highest stored sequence (0 when none).</param>
/// <param name="LossEntries">Loss-ledger entries for this stream from this node.</param>
/// <param name="LostRecords">Sequences those entries name.</param>
public sealed record LakePartitionSummary(
    string Stream,
    string NodeId,
    long Records,
    int Files,
    ulong HighWaterMark,
    long LossEntries,
    long LostRecords);
