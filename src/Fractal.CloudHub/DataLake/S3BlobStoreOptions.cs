using System.ComponentModel.DataAnnotations;

namespace Fractal.CloudHub.DataLake;

/// <summary>
/// The data lake on an S3-compatible object store (configuration section <c>DataLake:S3</c>):
/// AWS S3, OVH Object Storage / OpenStack Swift s3api, MinIO.
/// </summary>
public sealed class S3BlobStoreOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "DataLake:S3";

    /// <summary>
    /// Endpoint of an S3-compatible service, e.g. <c>https://s3.gra.io.cloud.ovh.net</c>.
    /// Empty: AWS S3 in <see cref="Region"/>.
    /// </summary>
    /// <value>The default value is empty (AWS).</value>
    public string ServiceUrl { get; set; } = string.Empty;

    /// <summary>
    /// Bucket of the lake; created on first write when missing. S3 naming rules apply (3-63
    /// characters of lowercase letters, digits, '.' and '-', starting and ending with a letter or digit).
    /// </summary>
    /// <value>The default value is empty; it must be set.</value>
    [Required(AllowEmptyStrings = false)]
    [RegularExpression(BucketPattern, ErrorMessage = "an S3 bucket name is 3-63 characters of lowercase letters, digits, '.' and '-', starts and ends with a letter or digit, and has no '..', '.-' or '-.'")]
    public string Bucket { get; set; } = string.Empty;

    /// <summary>
    /// Key prefix under which the lake lives in the bucket ('/'-separated segments, no leading or
    /// trailing '/'). Empty: the bucket's root.
    /// </summary>
    /// <value>The default value is empty.</value>
    [StringLength(256)]
    [RegularExpression(PrefixPattern, ErrorMessage = "a prefix is '/'-separated segments of letters, digits, '.', '_', '=' and '-', without leading or trailing '/'")]
    public string Prefix { get; set; } = string.Empty;

    /// <summary>Access key id. Empty: the AWS SDK's default credential chain.</summary>
    /// <value>The default value is empty.</value>
    public string AccessKey { get; set; } = string.Empty;

    /// <summary>Secret access key that goes with <see cref="AccessKey"/>.</summary>
    /// <value>The default value is empty.</value>
    public string SecretKey { get; set; } = string.Empty;

    /// <summary>Region requests are signed for (and the AWS endpoint when <see cref="ServiceUrl"/> is empty).</summary>
    /// <value>The default value is <c>us-east-1</c>.</value>
    [Required(AllowEmptyStrings = false)]
    [RegularExpression("^[a-z0-9-]{1,32}$", ErrorMessage = "a region is lowercase letters, digits and '-', e.g. us-east-1")]
    public string Region { get; set; } = "us-east-1";

    /// <summary>Path-style addressing; Swift, MinIO and most self-hosted services need it.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool ForcePathStyle { get; set; } = true;

    /// <summary>Keys per listing request (S3's maximum is 1000).</summary>
    /// <value>The default value is 1000.</value>
    [Range(1, 1000)]
    public int ListPageSize { get; set; } = 1000;

    /// <summary>Timeout of one HTTP request.</summary>
    /// <value>The default value is 100 seconds.</value>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>Retries the AWS SDK makes by itself on throttling and 5xx answers.</summary>
    /// <value>The default value is 3.</value>
    [Range(0, 10)]
    public int MaxErrorRetry { get; set; } = 3;

    internal const string BucketPattern = @"^(?!\d{1,3}(\.\d{1,3}){3}$)(?!.*(\.\.|\.-|-\.))[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$";

    internal const string PrefixPattern = "^[A-Za-z0-9._=-]+(/[A-Za-z0-9._=-]+)*$";
}
