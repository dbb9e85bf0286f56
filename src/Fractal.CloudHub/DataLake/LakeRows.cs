using System.Text.Json.Serialization;
using Parquet.Serialization.Attributes;

namespace Fractal.CloudHub.DataLake;

/// <summary>
/// One Parquet row of <c>records/</c>. Column names and types are the lake's schema contract
/// (docs/design/0003): node, stream (UTF8, required), sequence (INT64), timestamp (INT64
/// TIMESTAMP(MILLIS, UTC)), shape (LIST&lt;INT32&gt;), values (LIST&lt;FLOAT&gt;), label (optional
/// INT32), priority (INT32). Sequence is signed because Spark has no unsigned 64-bit type;
/// ingest refuses sequences above <see cref="long.MaxValue"/>.
/// </summary>
internal sealed class RecordRow
{
    [JsonPropertyName("node")]
    [ParquetRequired]
    public string Node { get; set; } = string.Empty;

    [JsonPropertyName("stream")]
    [ParquetRequired]
    public string Stream { get; set; } = string.Empty;

    [JsonPropertyName("sequence")]
    public long Sequence { get; set; }

    [JsonPropertyName("timestamp")]
    [ParquetTimestamp(ParquetTimestampResolution.Milliseconds, useLogicalTimestamp: true, isAdjustedToUTC: true)]
    public DateTime Timestamp { get; set; }

    [JsonPropertyName("shape")]
    public List<int> Shape { get; set; } = [];

    [JsonPropertyName("values")]
    public List<float> Values { get; set; } = [];

    [JsonPropertyName("label")]
    public int? Label { get; set; }

    [JsonPropertyName("priority")]
    public int Priority { get; set; }
}

/// <summary>One JSON line of <c>losses/</c>.</summary>
internal sealed class LossLine
{
    [JsonPropertyName("node")]
    public string Node { get; set; } = string.Empty;

    [JsonPropertyName("ledger_id")]
    public ulong LedgerId { get; set; }

    [JsonPropertyName("stream")]
    public string Stream { get; set; } = string.Empty;

    [JsonPropertyName("sequences")]
    public List<ulong> Sequences { get; set; } = [];

    [JsonPropertyName("reason")]
    public string Reason { get; set; } = string.Empty;

    [JsonPropertyName("lost_at")]
    public DateTimeOffset LostAt { get; set; }

    [JsonPropertyName("bytes")]
    public ulong Bytes { get; set; }
}

[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(LossLine))]
internal sealed partial class LakeJsonContext : JsonSerializerContext;
