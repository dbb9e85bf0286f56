using System.Globalization;
using Fractal.CloudHub.DataLake;
using Fractal.Contracts.Ingest;

namespace Fractal.CloudHub.Ingest;

/// <summary>
/// Validation of ingest input from nodes, shared by every ingest path (gRPC, Kafka). Input is
/// hostile until checked: each rule returns a message that names the offending field so the
/// node's operator can find the bug.
/// </summary>
public static class IngestValidator
{
    // The lake stores timestamps as Parquet TIMESTAMP(MILLIS); .NET's range is the binding one.
    private static readonly long s_minTimestamp = DateTimeOffset.MinValue.ToUnixTimeMilliseconds();
    private static readonly long s_maxTimestamp = DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();

    /// <summary>Returns null when <paramref name="batch"/> is acceptable, else what is wrong with it.</summary>
    public static string? Validate(RecordBatch batch, IngestOptions options)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(options);

        var error = ValidateNodeId(batch.NodeId) ?? ValidateStream("stream", batch.Stream);
        if (error is not null)
        {
            return error;
        }

        var records = batch.Records;
        if (records.Count == 0)
        {
            return "records is empty; a batch carries at least one record";
        }

        if (records.Count > options.MaxBatchRecords)
        {
            return Invariant($"records has {records.Count} entries; the limit is {options.MaxBatchRecords} (Ingest:MaxBatchRecords)");
        }

        for (var i = 0; i < records.Count; i++)
        {
            var record = records[i];
            if (record.Sequence == 0)
            {
                return Invariant($"records[{i}].sequence is 0; sequences start at 1");
            }

            if (record.Sequence > long.MaxValue)
            {
                return Invariant($"records[{i}].sequence {record.Sequence} exceeds {long.MaxValue}");
            }

            if (i > 0 && record.Sequence <= records[i - 1].Sequence)
            {
                return Invariant($"records[{i}].sequence {record.Sequence} is not greater than records[{i - 1}].sequence {records[i - 1].Sequence}; sequences must be strictly ascending");
            }

            if (record.TimestampUnixMs < s_minTimestamp || record.TimestampUnixMs > s_maxTimestamp)
            {
                return Invariant($"records[{i}].timestamp_unix_ms {record.TimestampUnixMs} is out of range");
            }

            error = ValidateTensor(i, record, options);
            if (error is not null)
            {
                return error;
            }
        }

        return null;
    }

    /// <summary>Returns null when <paramref name="report"/> is acceptable, else what is wrong with it.</summary>
    public static string? Validate(LossReport report, IngestOptions options)
    {
        ArgumentNullException.ThrowIfNull(report);
        ArgumentNullException.ThrowIfNull(options);

        var error = ValidateNodeId(report.NodeId);
        if (error is not null)
        {
            return error;
        }

        if (report.Entries.Count > options.MaxLossEntries)
        {
            return Invariant($"entries has {report.Entries.Count} entries; the limit is {options.MaxLossEntries} (Ingest:MaxLossEntries)");
        }

        for (var i = 0; i < report.Entries.Count; i++)
        {
            var entry = report.Entries[i];
            error = ValidateStream(Invariant($"entries[{i}].stream"), entry.Stream);
            if (error is not null)
            {
                return error;
            }

            if (entry.Reason.Length is 0 or > 32 || !LakeNames.HasOnlyAllowedCharacters(entry.Reason))
            {
                return Invariant($"entries[{i}].reason '{Truncate(entry.Reason)}' must be 1-32 characters from [A-Za-z0-9._-] (\"evicted\" or \"expired\")");
            }

            if (entry.LostAtUnixMs < s_minTimestamp || entry.LostAtUnixMs > s_maxTimestamp)
            {
                return Invariant($"entries[{i}].lost_at_unix_ms {entry.LostAtUnixMs} is out of range");
            }

            for (var j = 0; j < entry.Sequences.Count; j++)
            {
                var sequence = entry.Sequences[j];
                if (sequence == 0 || (j > 0 && sequence <= entry.Sequences[j - 1]))
                {
                    return Invariant($"entries[{i}].sequences[{j}] is {sequence}; sequences must be strictly ascending and start at 1");
                }
            }
        }

        return null;
    }

    private static string? ValidateNodeId(string nodeId)
    {
        if (nodeId.Length == 0)
        {
            return "node_id is empty";
        }

        if (nodeId.Length > LakeNames.MaxNodeIdLength)
        {
            return Invariant($"node_id has {nodeId.Length} characters; the limit is {LakeNames.MaxNodeIdLength}");
        }

        return LakeNames.IsValidNodeId(nodeId)
            ? null
            : $"node_id '{Truncate(nodeId)}' contains characters outside [A-Za-z0-9._-]";
    }

    private static string? ValidateStream(string field, string stream)
    {
        if (stream.Length == 0)
        {
            return $"{field} is empty";
        }

        if (stream.Length > LakeNames.MaxStreamLength)
        {
            return Invariant($"{field} has {stream.Length} characters; the limit is {LakeNames.MaxStreamLength}");
        }

        return LakeNames.IsValidStream(stream)
            ? null
            : $"{field} '{Truncate(stream)}' contains characters outside [A-Za-z0-9._-]";
    }

    private static string? ValidateTensor(int i, SensorRecord record, IngestOptions options)
    {
        var shape = record.Shape;
        if (shape.Count == 0)
        {
            return Invariant($"records[{i}].shape is empty; a list of n values has shape [n]");
        }

        if (shape.Count > options.MaxShapeRank)
        {
            return Invariant($"records[{i}].shape has {shape.Count} dimensions; the limit is {options.MaxShapeRank} (Ingest:MaxShapeRank)");
        }

        long product = 1;
        for (var d = 0; d < shape.Count; d++)
        {
            if (shape[d] <= 0)
            {
                return Invariant($"records[{i}].shape[{d}] is {shape[d]}; dimensions must be positive");
            }

            // Checked against the limit at every step, so the product cannot overflow.
            product *= shape[d];
            if (product > options.MaxValuesPerRecord)
            {
                return Invariant($"records[{i}].shape [{string.Join(',', shape)}] has more than {options.MaxValuesPerRecord} values (Ingest:MaxValuesPerRecord)");
            }
        }

        if (record.Values.Length != product * sizeof(float))
        {
            return Invariant($"records[{i}].values has {record.Values.Length} bytes; shape [{string.Join(',', shape)}] needs {product * sizeof(float)} (product of the shape times 4, float32 little-endian)");
        }

        return null;
    }

    private static string Truncate(string value) => value.Length <= 80 ? value : string.Concat(value.AsSpan(0, 80), "...");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
