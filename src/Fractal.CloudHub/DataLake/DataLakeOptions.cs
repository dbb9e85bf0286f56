using System.ComponentModel.DataAnnotations;

namespace Fractal.CloudHub.DataLake;

/// <summary>Where and how the hub stores the data lake (configuration section <c>DataLake</c>).</summary>
public sealed class DataLakeOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "DataLake";

    /// <summary>The local blob store backend: a directory on this machine (the embedded default).</summary>
    public const string LocalBackend = "local";

    /// <summary>The S3-compatible object store backend.</summary>
    public const string S3Backend = "s3";

    /// <summary>
    /// Root directory of the lake for the <c>local</c> backend. Relative paths are resolved against
    /// the process's working directory.
    /// </summary>
    /// <value>The default value is <c>./data/lake</c>.</value>
    [Required(AllowEmptyStrings = false)]
    public string Root { get; set; } = "./data/lake";

    /// <summary>
    /// Which blob store holds the lake's files: <c>local</c> (<see cref="Root"/>) or <c>s3</c>
    /// (<see cref="S3BlobStore"/>, configured under <c>DataLake:S3</c>).
    /// </summary>
    /// <value>The default value is <c>local</c>.</value>
    [Required]
    [AllowedValues(LocalBackend, S3Backend, ErrorMessage = "must be 'local' or 's3'")]
    public string Backend { get; set; } = LocalBackend;

    /// <summary>True when <paramref name="configuration"/> selects the S3 backend (read before options exist, to decide what to register).</summary>
    internal static bool SelectsS3(Microsoft.Extensions.Configuration.IConfiguration configuration) =>
        string.Equals(configuration[$"{SectionName}:{nameof(Backend)}"], S3Backend, StringComparison.Ordinal);
}
