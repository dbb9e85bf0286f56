using System.ComponentModel.DataAnnotations;

namespace Fractal.CloudHub.Ingest;

/// <summary>Limits on what nodes may send to the hub's ingest (configuration section <c>Ingest</c>).</summary>
public sealed class IngestOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Ingest";

    /// <summary>Largest gRPC message the ingest service accepts, in bytes (one batch or loss report).</summary>
    /// <value>The default value is 16 MiB.</value>
    [Range(4 * 1024, 256 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Most records in one batch.</summary>
    /// <value>The default value is 10000.</value>
    [Range(1, 1_000_000)]
    public int MaxBatchRecords { get; set; } = 10_000;

    /// <summary>Most values (product of the shape) in one record.</summary>
    /// <value>The default value is 1048576 (4 MiB of float32).</value>
    [Range(1, 64 * 1024 * 1024)]
    public int MaxValuesPerRecord { get; set; } = 1024 * 1024;

    /// <summary>Most dimensions in one record's shape.</summary>
    /// <value>The default value is 8.</value>
    [Range(1, 32)]
    public int MaxShapeRank { get; set; } = 8;

    /// <summary>Most entries in one loss report.</summary>
    /// <value>The default value is 10000.</value>
    [Range(1, 1_000_000)]
    public int MaxLossEntries { get; set; } = 10_000;
}
