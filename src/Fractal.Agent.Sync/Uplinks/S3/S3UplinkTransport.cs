using System.Globalization;
using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using Fractal.Contracts.Ingest;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync.Uplinks.S3;

/// <summary>
/// Writes each batch as one object with a single PUT. The call returns when the store has
/// answered 200 to the PUT, i.e. the object is durable and was checked against its Content-MD5;
/// any failure throws, and the worker sends the same batch again, which writes the same key.
/// </summary>
/// <remarks>
/// Objects are never appended to or listed by the agent: one PUT per batch, one key per
/// (node, stream, first sequence, last sequence). A retried batch overwrites its object with the
/// same bytes (gzip output is deterministic for the same input and level). A batch re-cut with
/// other bounds after a restart yields an overlapping object; the hub drops the duplicate records
/// by (node, stream, sequence), as for every uplink.
/// </remarks>
internal sealed class S3UplinkTransport : IUplinkTransport, IDisposable
{

    private readonly S3UplinkOptions _options;
    private readonly IAmazonS3 _client;
    private readonly bool _ownsClient;
    private readonly ILogger _logger;

    public S3UplinkTransport(IOptions<S3UplinkOptions> options, ILogger<S3UplinkTransport> logger)
        : this(Require(options).Value, S3ClientFactory.Create(options.Value), ownsClient: true, logger)
    {
    }

    internal S3UplinkTransport(S3UplinkOptions options, IAmazonS3 client, bool ownsClient, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options;
        _client = client;
        _ownsClient = ownsClient;
        _logger = logger;
    }

    public string Name => "s3";

    /// <inheritdoc />
    public async Task SendBatchAsync(RecordBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Records.Count == 0)
        {
            return; // nothing to make durable, and no key to name it by
        }

        RequireAscending(batch);
        var key = S3ObjectKeys.Records(_options.Prefix, batch, _options.Compression);
        var encoded = S3BatchObject.Encode(batch, _options.Compression);
        await PutAsync(key, encoded, S3BatchObject.RecordsFormat, batch.NodeId, batch.Stream,
            batch.Records.Count, batch.Records[0].Sequence, batch.Records[^1].Sequence, cancellationToken);
        S3UplinkLog.BatchUploaded(_logger, batch.Records.Count, batch.Stream, _options.Bucket, key, encoded.Content.Length);
    }

    /// <inheritdoc />
    public async Task SendLossesAsync(LossReport report, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(report);
        if (report.Entries.Count == 0)
        {
            return;
        }

        var key = S3ObjectKeys.Losses(_options.Prefix, report, _options.Compression);
        var encoded = S3BatchObject.EncodeLosses(report, _options.Compression);
        await PutAsync(key, encoded, S3BatchObject.LossesFormat, report.NodeId, stream: null,
            report.Entries.Count, report.Entries[0].LedgerId, report.Entries[^1].LedgerId, cancellationToken);
        S3UplinkLog.LossesUploaded(_logger, report.Entries.Count, _options.Bucket, key);
    }

    public void Dispose()
    {
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }

    private async Task PutAsync(string key, S3BatchObject.Encoded encoded, string format, string node, string? stream,
        int count, ulong first, ulong last, CancellationToken cancellationToken)
    {
        var md5 = ContentMd5(encoded.Content);
        for (var attempt = 0; ; attempt++)
        {
            var request = new PutObjectRequest
            {
                BucketName = _options.Bucket,
                Key = key,
                // A fresh stream per attempt: the SDK closes it after sending.
                InputStream = new MemoryStream(encoded.Content, writable: false),
                ContentType = _options.Compression == S3UplinkCompression.Gzip ? "application/gzip" : "application/octet-stream",
                // Swift's s3api turns Content-MD5 into the ETag its object server verifies before
                // the object is stored; AWS verifies it the same way (BadDigest on mismatch).
                MD5Digest = md5,
                // Swift 2.30 rejects aws-chunked bodies: send one plain, SigV4-signed payload
                // (x-amz-content-sha256, which s3api also verifies).
                UseChunkEncoding = false,
            };
            request.Metadata.Add(S3BatchObject.MetadataFormat, format);
            request.Metadata.Add(S3BatchObject.MetadataNode, node);
            if (stream is not null)
            {
                request.Metadata.Add(S3BatchObject.MetadataStream, stream);
            }

            request.Metadata.Add(S3BatchObject.MetadataCount, count.ToString(CultureInfo.InvariantCulture));
            request.Metadata.Add(S3BatchObject.MetadataFirst, first.ToString(CultureInfo.InvariantCulture));
            request.Metadata.Add(S3BatchObject.MetadataLast, last.ToString(CultureInfo.InvariantCulture));
            request.Metadata.Add(S3BatchObject.MetadataSha256, encoded.PayloadSha256);
            request.Metadata.Add(S3BatchObject.MetadataCompression, _options.Compression == S3UplinkCompression.Gzip ? "gzip" : "none");

            try
            {
                await _client.PutObjectAsync(request, cancellationToken);
                return;
            }
            catch (AmazonS3Exception ex) when (ex.ErrorCode == ErrorCodes.NoSuchBucket && attempt == 0)
            {
                // First use of a new bucket: create it and put once more. Steady state pays nothing.
                await CreateBucketAsync(cancellationToken);
            }
            catch (AmazonS3Exception ex) when (ex.ErrorCode == ErrorCodes.InvalidBucketName)
            {
                throw BadBucket(ex);
            }
        }
    }

    private async Task CreateBucketAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _client.PutBucketAsync(new PutBucketRequest { BucketName = _options.Bucket }, cancellationToken);
            S3UplinkLog.BucketCreated(_logger, _options.Bucket);
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode == ErrorCodes.BucketAlreadyOwnedByYou)
        {
            // Another writer (or an earlier attempt whose answer was lost) created it: fine.
        }
        catch (AmazonS3Exception ex) when (ex.ErrorCode == ErrorCodes.InvalidBucketName)
        {
            throw BadBucket(ex);
        }
    }

    private ConfigurationValueException BadBucket(AmazonS3Exception ex) =>
        new($"{S3UplinkOptions.SectionName}:{nameof(S3UplinkOptions.Bucket)}", _options.Bucket,
            $"the S3 service rejected the bucket name ({ex.ErrorCode}: {ex.Message})");

    private static void RequireAscending(RecordBatch batch)
    {
        var records = batch.Records;
        for (var i = 1; i < records.Count; i++)
        {
            if (records[i].Sequence <= records[i - 1].Sequence)
            {
                throw new ArgumentException(
                    $"Records of stream '{batch.Stream}' are not in ascending sequence order at index {i} ({records[i - 1].Sequence} then {records[i].Sequence}).",
                    nameof(batch));
            }
        }
    }

#pragma warning disable CA5351 // MD5 is the Content-MD5 integrity check the S3 protocol defines, not a security measure.
    private static string ContentMd5(byte[] content) => Convert.ToBase64String(MD5.HashData(content));
#pragma warning restore CA5351

    private static IOptions<S3UplinkOptions> Require(IOptions<S3UplinkOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options;
    }

    // S3 error codes this class reacts to (the same on AWS and on Swift's s3api).
    private static class ErrorCodes
    {
        public const string NoSuchBucket = "NoSuchBucket";
        public const string InvalidBucketName = "InvalidBucketName";
        public const string BucketAlreadyOwnedByYou = "BucketAlreadyOwnedByYou";
    }
}
