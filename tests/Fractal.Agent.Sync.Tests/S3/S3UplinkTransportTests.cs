using System.Security.Cryptography;
using Amazon.S3;
using Amazon.S3.Model;
using Fractal.Agent.Sync.Uplinks.S3;
using Fractal.Contracts.Ingest;
using Fractal.Testing;
using Fractal.Testing.Swift;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync.Tests.S3;

/// <summary>The S3 uplink against a real Swift s3api on loopback.</summary>
[Collection(SwiftS3Fixture.Name)]
public sealed class S3UplinkTransportTests : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan _timeout = TimeSpan.FromSeconds(30);

    private readonly SwiftS3Fixture _swift;
    private readonly AmazonS3Client _client;
    private readonly string _bucket = Unique.Name("uplink");

    public S3UplinkTransportTests(SwiftS3Fixture swift)
    {
        _swift = swift;
        _client = swift.Server.CreateClient();
    }

    public Task InitializeAsync() => _swift.EnsureRunningAsync();

    public Task DisposeAsync() => _swift.EnsureRunningAsync();

    public void Dispose() => _client.Dispose();

    [Fact]
    public async Task SendBatchAsync_NewBucket_CreatesBucketAndWritesOneObjectUnderPartitionedKey()
    {
        using var transport = CreateTransport();
        var batch = S3TestData.Batch("node-a", "vibration", firstSequence: 101, count: 50);

        await transport.SendBatchAsync(batch, CancellationToken.None).WaitAsync(_timeout);

        // Date partition from the first record (23:59:59.9 UTC), although later records are on the next day.
        const string expected = "fractal/records/stream=vibration/node=node-a/date=2026-11-27/00000000000000000101-00000000000000000150.pb.gz";
        Assert.Equal([expected], await ListAsync("fractal/"));
        var head = await _client.GetObjectMetadataAsync(_bucket, expected);
        Assert.Equal("records-v1", head.Metadata[S3BatchObject.MetadataFormat]);
        Assert.Equal("50", head.Metadata[S3BatchObject.MetadataCount]);
        Assert.Equal("101", head.Metadata[S3BatchObject.MetadataFirst]);
        Assert.Equal("150", head.Metadata[S3BatchObject.MetadataLast]);
        Assert.Equal("node-a", head.Metadata[S3BatchObject.MetadataNode]);
        Assert.Equal("vibration", head.Metadata[S3BatchObject.MetadataStream]);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(batch.ToByteArray())), head.Metadata[S3BatchObject.MetadataSha256]);
    }

    [Fact]
    public async Task SendBatchAsync_Batch_DecodesToTheSameRecords()
    {
        using var transport = CreateTransport();
        var batch = S3TestData.Batch("node-a", "vibration", firstSequence: 1, count: 200);

        await transport.SendBatchAsync(batch, CancellationToken.None).WaitAsync(_timeout);

        var key = Assert.Single(await ListAsync("fractal/records/"));
        var decoded = S3BatchObject.Decode(await DownloadAsync(key));
        Assert.Equal(batch, decoded);
    }

    [Fact]
    public async Task SendBatchAsync_CompressionNone_WritesPlainObjectThatDecodes()
    {
        using var transport = CreateTransport(o => o.Compression = S3UplinkCompression.None);
        var batch = S3TestData.Batch("node-b", "temperature", firstSequence: 7, count: 3);

        await transport.SendBatchAsync(batch, CancellationToken.None).WaitAsync(_timeout);

        var key = Assert.Single(await ListAsync("fractal/"));
        Assert.EndsWith("/00000000000000000007-00000000000000000009.pb", key, StringComparison.Ordinal);
        Assert.Equal(batch, S3BatchObject.Decode(await DownloadAsync(key)));
    }

    [Fact]
    public async Task Decode_CorruptedDownload_ThrowsInvalidData()
    {
        using var transport = CreateTransport();
        await transport.SendBatchAsync(S3TestData.Batch("node-a", "vibration", 1, 100), CancellationToken.None).WaitAsync(_timeout);
        var bytes = await DownloadAsync(Assert.Single(await ListAsync("fractal/")));

        var flipped = (byte[])bytes.Clone();
        flipped[bytes.Length / 2] ^= 0x01;
        var truncated = bytes[..^9];

        Assert.Throws<InvalidDataException>(() => S3BatchObject.Decode(flipped));
        Assert.Throws<InvalidDataException>(() => S3BatchObject.Decode(truncated));
    }

    [Fact]
    public async Task Decode_CorruptedUncompressedPayload_ThrowsChecksumMismatch()
    {
        using var transport = CreateTransport(o => o.Compression = S3UplinkCompression.None);
        await transport.SendBatchAsync(S3TestData.Batch("node-a", "vibration", 1, 10), CancellationToken.None).WaitAsync(_timeout);
        var bytes = await DownloadAsync(Assert.Single(await ListAsync("fractal/")));

        bytes[^3] ^= 0x40; // inside a float value: still valid protobuf, only the SHA-256 can tell

        var ex = Assert.Throws<InvalidDataException>(() => S3BatchObject.Decode(bytes));
        Assert.Contains("Checksum mismatch", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendBatchAsync_SameBatchTwice_LeavesOneObject()
    {
        using var transport = CreateTransport();
        var batch = S3TestData.Batch("node-a", "vibration", firstSequence: 500, count: 20);

        await transport.SendBatchAsync(batch, CancellationToken.None).WaitAsync(_timeout);
        var first = await DownloadAsync(Assert.Single(await ListAsync("fractal/")));
        await transport.SendBatchAsync(batch, CancellationToken.None).WaitAsync(_timeout);

        var key = Assert.Single(await ListAsync("fractal/"));
        Assert.Equal(first, await DownloadAsync(key));
    }

    [Fact]
    public async Task PutObject_WrongContentMd5_IsRejectedByTheStore()
    {
        // The uplink relies on the store verifying Content-MD5 before it keeps an object.
        await _client.PutBucketAsync(_bucket);
        var body = "some bytes"u8.ToArray();
        var request = new PutObjectRequest
        {
            BucketName = _bucket,
            Key = "md5-check",
            InputStream = new MemoryStream(body),
            MD5Digest = Convert.ToBase64String(new byte[16]),
            UseChunkEncoding = false,
        };

        var ex = await Assert.ThrowsAsync<AmazonS3Exception>(() => _client.PutObjectAsync(request));

        Assert.Equal("BadDigest", ex.ErrorCode);
        Assert.Empty(await ListAsync(string.Empty));
    }

    [Fact]
    public async Task SendBatchAsync_StoreStopped_ThrowsThenSameCallSucceedsAfterRestart()
    {
        using var transport = CreateTransport(o =>
        {
            o.MaxErrorRetry = 0;
            o.RequestTimeout = TimeSpan.FromSeconds(5);
        });
        var batch = S3TestData.Batch("node-a", "vibration", firstSequence: 1000, count: 10);
        await transport.SendBatchAsync(S3TestData.Batch("node-a", "vibration", 1, 1), CancellationToken.None).WaitAsync(_timeout);

        await _swift.Server.StopAsync();
        var failure = await Record.ExceptionAsync(() => transport.SendBatchAsync(batch, CancellationToken.None).WaitAsync(_timeout));
        await _swift.Server.StartAsync();
        var afterRestart = await ListAsync("fractal/");
        await transport.SendBatchAsync(batch, CancellationToken.None).WaitAsync(_timeout);

        // The failed call threw (so the worker keeps its checkpoint) and wrote nothing; the earlier
        // object survived the restart; the retried call wrote the batch.
        Assert.NotNull(failure);
        Assert.IsNotType<ArgumentException>(failure);
        Assert.IsNotType<TimeoutException>(failure);
        Assert.Single(afterRestart);
        var keys = await ListAsync("fractal/");
        Assert.Equal(2, keys.Count);
        Assert.Equal(batch, S3BatchObject.Decode(await DownloadAsync(keys[1])));
    }

    [Fact]
    public async Task SendLossesAsync_Report_WritesLossObjectThatDecodes()
    {
        using var transport = CreateTransport();
        var report = S3TestData.Losses("node-a", firstLedgerId: 42, count: 5);

        await transport.SendLossesAsync(report, CancellationToken.None).WaitAsync(_timeout);

        var key = Assert.Single(await ListAsync("fractal/"));
        Assert.Equal("fractal/losses/node=node-a/00000000000000000042-00000000000000000046.pb.gz", key);
        Assert.Equal(report, S3BatchObject.DecodeLosses(await DownloadAsync(key)));
        var head = await _client.GetObjectMetadataAsync(_bucket, key);
        Assert.Equal("losses-v1", head.Metadata[S3BatchObject.MetadataFormat]);
        Assert.Equal("5", head.Metadata[S3BatchObject.MetadataCount]);
    }

    [Fact]
    public async Task SendBatchAsync_BucketNameTheStoreRejects_ThrowsConfigurationErrorNamingTheKey()
    {
        // Past options validation (e.g. a transport built by hand): the store's refusal must still be clear.
        using var transport = CreateTransport(o => o.Bucket = "Bad_Bucket");

        var ex = await Assert.ThrowsAsync<ConfigurationValueException>(
            () => transport.SendBatchAsync(S3TestData.Batch("node-a", "vibration", 1, 1), CancellationToken.None).WaitAsync(_timeout));

        Assert.Equal("Uplinks:S3:Bucket", ex.Key);
        Assert.Equal("Bad_Bucket", ex.Value);
        Assert.Contains("InvalidBucketName", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SendBatchAsync_EmptyBatch_WritesNothing()
    {
        using var transport = CreateTransport();

        await transport.SendBatchAsync(new RecordBatch { NodeId = "node-a", Stream = "vibration" }, CancellationToken.None).WaitAsync(_timeout);
        await transport.SendLossesAsync(new LossReport { NodeId = "node-a" }, CancellationToken.None).WaitAsync(_timeout);

        await _client.PutBucketAsync(_bucket);
        Assert.Empty(await ListAsync(string.Empty));
    }

    private S3UplinkTransport CreateTransport(Action<S3UplinkOptions>? configure = null)
    {
        var options = new S3UplinkOptions
        {
            ServiceUrl = _swift.Server.Endpoint.ToString(),
            Bucket = _bucket,
            AccessKey = _swift.Server.AccessKey,
            SecretKey = _swift.Server.SecretKey,
            Region = SwiftS3Server.Region,
        };
        configure?.Invoke(options);
        return new S3UplinkTransport(Options.Create(options), NullLogger<S3UplinkTransport>.Instance);
    }

    private async Task<List<string>> ListAsync(string prefix)
    {
        var response = await _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _bucket, Prefix = prefix });
        return (response.S3Objects ?? []).Select(o => o.Key).ToList();
    }

    private async Task<byte[]> DownloadAsync(string key)
    {
        using var response = await _client.GetObjectAsync(_bucket, key);
        using var buffer = new MemoryStream();
        await response.ResponseStream.CopyToAsync(buffer);
        return buffer.ToArray();
    }
}
