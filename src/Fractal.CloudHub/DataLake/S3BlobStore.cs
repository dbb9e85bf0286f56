using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fractal.CloudHub.DataLake;

/// <summary>
/// A blob store on an S3-compatible object store. A put is one PUT request (S3 makes a whole
/// object visible at once, so readers see all of it or nothing) carrying Content-MD5, which the
/// store verifies before it keeps the object; a get checks the body against the ETag when the
/// ETag is the body's MD5 (single-part objects without KMS encryption).
/// </summary>
/// <remarks>
/// Client settings that make every S3-compatible service work, OpenStack Swift 2.30's s3api
/// included: path-style addressing, no aws-chunked payloads (<c>UseChunkEncoding = false</c>), and
/// AWSSDK v4's flexible checksums only where an operation requires them.
/// </remarks>
public sealed class S3BlobStore : IBlobStore, IDisposable
{

    private readonly S3BlobStoreOptions _options;
    private readonly IAmazonS3 _client;
    private readonly bool _ownsClient;
    private readonly ILogger _logger;
    private readonly string _keyPrefix;

    /// <summary>Creates a store with its own client built from <paramref name="options"/>.</summary>
    public S3BlobStore(IOptions<S3BlobStoreOptions> options, ILogger<S3BlobStore> logger)
        : this(RequireOptions(options).Value, CreateClient(options.Value), ownsClient: true, logger)
    {
    }

    internal S3BlobStore(S3BlobStoreOptions options, IAmazonS3 client, bool ownsClient, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options;
        _client = client;
        _ownsClient = ownsClient;
        _logger = logger;
        _keyPrefix = options.Prefix.Length == 0 ? string.Empty : options.Prefix + "/";
    }

    /// <summary>The bucket this store writes to.</summary>
    public string Bucket => _options.Bucket;

    /// <summary>Factory for DI: options from <c>DataLake:S3</c> (see <see cref="S3BlobStoreServiceCollectionExtensions.AddS3BlobStore"/>).</summary>
    public static S3BlobStore Create(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return new S3BlobStore(services.GetRequiredService<IOptions<S3BlobStoreOptions>>(), services.GetRequiredService<ILogger<S3BlobStore>>());
    }

    /// <summary>
    /// An AWS SDK client with the settings S3-compatible services need (path style as configured,
    /// flexible checksums only when required, request timeout and SDK retries from the options).
    /// </summary>
    public static AmazonS3Client CreateClient(S3BlobStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle,
            // AWSSDK v4 would add CRC32 checksums as aws-chunked trailers, which Swift 2.30 refuses
            // (and it ignores x-amz-checksum-* headers). Uploads carry Content-MD5 instead.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            Timeout = options.RequestTimeout,
            MaxErrorRetry = options.MaxErrorRetry,
        };
        if (options.ServiceUrl.Length > 0)
        {
            config.ServiceURL = options.ServiceUrl;
            config.AuthenticationRegion = options.Region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }

        return options.AccessKey.Length > 0
            ? new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config)
            : new AmazonS3Client(config);
    }

    /// <inheritdoc />
    public async Task PutAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var objectKey = ToObjectKey(key);
        var bytes = content.ToArray();
        var md5 = Convert.ToBase64String(Md5(bytes));
        for (var attempt = 0; ; attempt++)
        {
            var request = new PutObjectRequest
            {
                BucketName = _options.Bucket,
                Key = objectKey,
                InputStream = new MemoryStream(bytes, writable: false),
                ContentType = "application/octet-stream",
                MD5Digest = md5,
                UseChunkEncoding = false,
            };
            try
            {
                await _client.PutObjectAsync(request, cancellationToken);
                S3BlobStoreLog.ObjectWritten(_logger, _options.Bucket, objectKey, bytes.Length);
                return;
            }
            catch (AmazonS3Exception ex) when (ex.ErrorCode == ErrorCodes.NoSuchBucket && attempt == 0)
            {
                await CreateBucketAsync(cancellationToken);
            }
            catch (AmazonS3Exception ex) when (ex.ErrorCode == ErrorCodes.InvalidBucketName)
            {
                throw BadBucket(ex);
            }
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<string> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var request = new ListObjectsV2Request
        {
            BucketName = _options.Bucket,
            Prefix = _keyPrefix + prefix,
            MaxKeys = _options.ListPageSize,
        };
        while (true)
        {
            ListObjectsV2Response response;
            try
            {
                response = await _client.ListObjectsV2Async(request, cancellationToken);
            }
            catch (AmazonS3Exception ex) when (ex.ErrorCode == ErrorCodes.NoSuchBucket)
            {
                yield break; // a lake that was never written to is empty
            }
            catch (AmazonS3Exception ex) when (ex.ErrorCode == ErrorCodes.InvalidBucketName)
            {
                throw BadBucket(ex);
            }

            // AWSSDK v4 leaves empty collections null. S3 lists in UTF-8 byte order, which is
            // ordinal order for the ASCII keys the lake writes.
            foreach (var item in response.S3Objects ?? [])
            {
                yield return item.Key[_keyPrefix.Length..];
            }

            if (response.IsTruncated != true || string.IsNullOrEmpty(response.NextContinuationToken))
            {
                yield break;
            }

            request.ContinuationToken = response.NextContinuationToken;
        }
    }

    /// <inheritdoc />
    public async Task<byte[]> GetAsync(string key, CancellationToken cancellationToken)
    {
        var objectKey = ToObjectKey(key);
        GetObjectResponse response;
        try
        {
            response = await _client.GetObjectAsync(_options.Bucket, objectKey, cancellationToken);
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode is ErrorCodes.NoSuchKey or ErrorCodes.NoSuchBucket || ex.StatusCode == HttpStatusCode.NotFound)
        {
            throw new FileNotFoundException($"Blob '{key}' does not exist in s3://{_options.Bucket}/{_keyPrefix}.", key, ex);
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode == ErrorCodes.InvalidBucketName)
        {
            throw BadBucket(ex);
        }

        using (response)
        {
            using var buffer = new MemoryStream(response.ContentLength > 0 && response.ContentLength < int.MaxValue ? (int)response.ContentLength : 0);
            try
            {
                await response.ResponseStream.CopyToAsync(buffer, cancellationToken);
            }
            catch (AmazonClientException ex)
            {
                // The SDK hashes the body while it is read and compares the MD5 with the ETag at the
                // end (network and I/O failures surface as IOException, not as this).
                throw new InvalidDataException($"s3://{_options.Bucket}/{objectKey}: the body does not match its ETag ({ex.Message}).", ex);
            }

            var bytes = buffer.ToArray();
            VerifyEtag(objectKey, response, bytes);
            return bytes;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }

    // The ETag of a single-part object stored without KMS/customer keys is the hex MD5 of its body:
    // comparing catches corruption between the store's disk and this process. The SDK makes the
    // same check while streaming when it can; this one does not depend on SDK settings.
    private void VerifyEtag(string objectKey, GetObjectResponse response, byte[] bytes)
    {
        var etag = response.ETag?.Trim('"');
        var sse = response.ServerSideEncryptionMethod;
        if (etag is not { Length: 32 } || !etag.All(Uri.IsHexDigit)
            || (sse is not null && sse != ServerSideEncryptionMethod.None && sse != ServerSideEncryptionMethod.AES256)
            || response.ServerSideEncryptionCustomerMethod is { } customer && customer != ServerSideEncryptionCustomerMethod.None)
        {
            return;
        }

        var actual = Convert.ToHexStringLower(Md5(bytes));
        if (!string.Equals(actual, etag, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidDataException($"s3://{_options.Bucket}/{objectKey}: body MD5 {actual} does not match ETag {etag}.");
        }
    }

    private async Task CreateBucketAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _client.PutBucketAsync(new PutBucketRequest { BucketName = _options.Bucket }, cancellationToken);
            S3BlobStoreLog.BucketCreated(_logger, _options.Bucket);
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode == ErrorCodes.BucketAlreadyOwnedByYou)
        {
            // Created concurrently (or by an attempt whose answer was lost): fine.
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode == ErrorCodes.InvalidBucketName)
        {
            throw BadBucket(ex);
        }
    }

    private InvalidOperationException BadBucket(AmazonS3Exception ex) =>
        new($"{S3BlobStoreOptions.SectionName}:{nameof(S3BlobStoreOptions.Bucket)} = '{_options.Bucket}': the S3 service rejected the bucket name ({ex.ErrorCode}: {ex.Message})", ex);

    // Keys are relative '/'-separated paths, as for the local store: no empty, '.' or '..' segment.
    private string ToObjectKey(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        foreach (var segment in key.Split('/'))
        {
            if (segment.Length == 0 || segment == "." || segment == ".." || segment.Contains('\0', StringComparison.Ordinal))
            {
                throw new ArgumentException($"Invalid blob key '{key}': segment '{segment}' is not allowed.", nameof(key));
            }
        }

        return _keyPrefix + key;
    }

#pragma warning disable CA5351 // MD5 is the Content-MD5/ETag integrity check the S3 protocol defines, not a security measure.
    private static byte[] Md5(byte[] content) => MD5.HashData(content);
#pragma warning restore CA5351

    private static IOptions<S3BlobStoreOptions> RequireOptions(IOptions<S3BlobStoreOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options;
    }

    // S3 error codes this class reacts to (the same on AWS and on Swift's s3api).
    private static class ErrorCodes
    {
        public const string NoSuchBucket = "NoSuchBucket";
        public const string NoSuchKey = "NoSuchKey";
        public const string InvalidBucketName = "InvalidBucketName";
        public const string BucketAlreadyOwnedByYou = "BucketAlreadyOwnedByYou";
    }
}
