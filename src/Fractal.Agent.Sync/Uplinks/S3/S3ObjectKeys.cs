using System.Buffers;
using System.Globalization;
using Fractal.Contracts.Ingest;

namespace Fractal.Agent.Sync.Uplinks.S3;

/// <summary>
/// Object keys of the S3 uplink. A key is a pure function of the batch (node, stream, first and
/// last sequence, first timestamp), so a retried batch overwrites its own object instead of
/// adding a second one. Sequence numbers are zero-padded to 20 digits (all of ulong) so keys sort
/// in sequence order.
/// </summary>
internal static class S3ObjectKeys
{
    /// <summary>Longest node id or stream name accepted in a key (the hub's limit for node ids).</summary>
    internal const int MaxNameLength = 128;

    private static readonly SearchValues<char> _nameCharacters =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

    /// <summary><c>{prefix}/records/stream={stream}/node={node}/date={yyyy-MM-dd}/{first:D20}-{last:D20}.pb[.gz]</c></summary>
    public static string Records(string prefix, RecordBatch batch, S3UplinkCompression compression)
    {
        RequireName(batch.NodeId, "node id", nameof(batch));
        RequireName(batch.Stream, "stream", nameof(batch));
        var first = batch.Records[0];
        var last = batch.Records[^1];
        return string.Create(CultureInfo.InvariantCulture,
            $"{prefix}/records/stream={batch.Stream}/node={batch.NodeId}/date={PartitionDate(first.TimestampUnixMs)}/{first.Sequence:D20}-{last.Sequence:D20}{Extension(compression)}");
    }

    /// <summary><c>{prefix}/losses/node={node}/{firstLedgerId:D20}-{lastLedgerId:D20}.pb[.gz]</c></summary>
    public static string Losses(string prefix, LossReport report, S3UplinkCompression compression)
    {
        RequireName(report.NodeId, "node id", nameof(report));
        return string.Create(CultureInfo.InvariantCulture,
            $"{prefix}/losses/node={report.NodeId}/{report.Entries[0].LedgerId:D20}-{report.Entries[^1].LedgerId:D20}{Extension(compression)}");
    }

    /// <summary>The UTC date of a node timestamp; timestamps outside what a date can hold are clamped
    /// (a node with a broken clock must not wedge its uplink on a batch that can never be named).</summary>
    public static string PartitionDate(long unixMilliseconds)
    {
        var clamped = Math.Clamp(unixMilliseconds, DateTimeOffset.MinValue.ToUnixTimeMilliseconds(), DateTimeOffset.MaxValue.ToUnixTimeMilliseconds());
        return DateTimeOffset.FromUnixTimeMilliseconds(clamped).UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
    }

    private static string Extension(S3UplinkCompression compression) => compression == S3UplinkCompression.Gzip ? ".pb.gz" : ".pb";

    // Node ids and stream names become key segments and Hive-style partition values, so only
    // [A-Za-z0-9._-] is accepted: nothing can add a '/' level, an '=' or escape the prefix. The
    // buffer and the hub enforce the same alphabet, so this only trips on a corrupted batch.
    private static void RequireName(string value, string what, string paramName)
    {
        if (string.IsNullOrEmpty(value) || value.Length > MaxNameLength || value.AsSpan().ContainsAnyExcept(_nameCharacters))
        {
            throw new ArgumentException($"Invalid {what} '{value}': 1-{MaxNameLength} characters of letters, digits, '.', '_' and '-' are allowed in S3 keys.", paramName);
        }
    }
}
