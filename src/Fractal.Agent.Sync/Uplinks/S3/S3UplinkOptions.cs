using System.ComponentModel.DataAnnotations;

namespace Fractal.Agent.Sync.Uplinks.S3;

/// <summary>
/// The S3 uplink: every batch becomes one compressed, checksummed object in an S3-compatible
/// object store (AWS S3, OVH Object Storage / OpenStack Swift s3api, MinIO). See
/// docs/design/0005-s3-uplink.md for the object layout.
/// </summary>
public sealed class S3UplinkOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Uplinks:S3";

    /// <summary>
    /// Endpoint of an S3-compatible service, e.g. <c>https://s3.gra.io.cloud.ovh.net</c> or
    /// <c>http://127.0.0.1:8080</c>. Empty: AWS S3 in <see cref="Region"/>.
    /// <value>The default value is empty (AWS).</value>
    /// </summary>
    public string ServiceUrl { get; set; } = string.Empty;

    /// <summary>
    /// Bucket the objects go to; created on first use when missing. Empty disables the S3 uplink.
    /// Must follow the S3 naming rules (3-63 characters of lowercase letters, digits, '.' and '-',
    /// starting and ending with a letter or digit).
    /// <value>The default value is empty (disabled).</value>
    /// </summary>
    [RegularExpression(BucketPattern, ErrorMessage = "an S3 bucket name is 3-63 characters of lowercase letters, digits, '.' and '-', starts and ends with a letter or digit, and has no '..', '.-' or '-.'")]
    public string Bucket { get; set; } = string.Empty;

    /// <summary>
    /// Key prefix of every object: '/'-separated segments of letters, digits, '.', '_', '=' and '-',
    /// without leading or trailing '/'.
    /// <value>The default value is <c>fractal</c>.</value>
    /// </summary>
    [Required(AllowEmptyStrings = false)]
    [StringLength(256)]
    [RegularExpression(PrefixPattern, ErrorMessage = "a prefix is '/'-separated segments of letters, digits, '.', '_', '=' and '-', without leading or trailing '/'")]
    public string Prefix { get; set; } = "fractal";

    /// <summary>
    /// Access key id. Empty: the AWS SDK's default credential chain (environment, profile,
    /// instance role).
    /// <value>The default value is empty.</value>
    /// </summary>
    public string AccessKey { get; set; } = string.Empty;

    /// <summary>
    /// Secret access key that goes with <see cref="AccessKey"/>.
    /// <value>The default value is empty.</value>
    /// </summary>
    public string SecretKey { get; set; } = string.Empty;

    /// <summary>
    /// Region requests are signed for (and the AWS endpoint when <see cref="ServiceUrl"/> is empty).
    /// <value>The default value is <c>us-east-1</c>.</value>
    /// </summary>
    [Required(AllowEmptyStrings = false)]
    [RegularExpression("^[a-z0-9-]{1,32}$", ErrorMessage = "a region is lowercase letters, digits and '-', e.g. us-east-1")]
    public string Region { get; set; } = "us-east-1";

    /// <summary>
    /// Path-style addressing (<c>{endpoint}/{bucket}/{key}</c>) instead of virtual-host style;
    /// Swift, MinIO and most self-hosted services need it.
    /// <value>The default value is <see langword="true"/>.</value>
    /// </summary>
    public bool ForcePathStyle { get; set; } = true;

    /// <summary>
    /// Compression of the objects: <c>Gzip</c> (keys end in <c>.pb.gz</c>) or <c>None</c> (<c>.pb</c>).
    /// <value>The default value is <see cref="S3UplinkCompression.Gzip"/>.</value>
    /// </summary>
    [EnumDataType(typeof(S3UplinkCompression))]
    public S3UplinkCompression Compression { get; set; } = S3UplinkCompression.Gzip;

    /// <summary>
    /// Timeout of one HTTP request; a batch call fails after at most about this long times
    /// (<see cref="MaxErrorRetry"/> + 1).
    /// <value>The default value is 30 seconds.</value>
    /// </summary>
    [TimeSpanRange("00:00:01", "00:10:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Retries the AWS SDK makes by itself on throttling and 5xx answers before a call fails (the
    /// uplink worker then sends the whole batch again).
    /// <value>The default value is 2.</value>
    /// </summary>
    [Range(0, 10)]
    public int MaxErrorRetry { get; set; } = 2;

    /// <summary>Whether the uplink is configured (<see cref="Bucket"/> is not empty).</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(Bucket);

    // S3 bucket naming rules (the subset Swift's s3api and AWS both enforce); IP-address-like names are refused too.
    internal const string BucketPattern = @"^(?!\d{1,3}(\.\d{1,3}){3}$)(?!.*(\.\.|\.-|-\.))[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$";

    internal const string PrefixPattern = "^[A-Za-z0-9._=-]+(/[A-Za-z0-9._=-]+)*$";
}

/// <summary>Compression of the S3 uplink's objects.</summary>
public enum S3UplinkCompression
{
    /// <summary>gzip (RFC 1952): readable by every tool; keys end in <c>.pb.gz</c>.</summary>
    Gzip,

    /// <summary>No compression, for data that does not compress; keys end in <c>.pb</c>.</summary>
    None,
}
