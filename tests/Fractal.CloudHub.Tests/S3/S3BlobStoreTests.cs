using System.Text;
using Amazon.S3;
using Amazon.S3.Model;
using Fractal.CloudHub.DataLake;
using Fractal.Testing;
using Fractal.Testing.Swift;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Fractal.CloudHub.Tests.S3;

/// <summary>The S3 blob store against a real Swift s3api on loopback.</summary>
[Collection(SwiftS3Fixture.Name)]
public sealed class S3BlobStoreTests : IAsyncLifetime, IDisposable
{
    private static readonly TimeSpan _timeout = TimeSpan.FromSeconds(30);

    private readonly SwiftS3Fixture _swift;
    private readonly AmazonS3Client _client;
    private readonly string _bucket = Unique.Name("lake");

    public S3BlobStoreTests(SwiftS3Fixture swift)
    {
        _swift = swift;
        _client = swift.Server.CreateClient();
    }

    public Task InitializeAsync() => _swift.EnsureRunningAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    public void Dispose() => _client.Dispose();

    [Fact]
    public async Task PutAsync_NewBucket_CreatesBucketAndGetReturnsSameBytes()
    {
        using var store = CreateStore();
        var content = RandomBytes(300_000, seed: 1);

        await store.PutAsync("records/stream=a/node=n/date=2026-11-28/part-0001.parquet", content, CancellationToken.None).WaitAsync(_timeout);
        var read = await store.GetAsync("records/stream=a/node=n/date=2026-11-28/part-0001.parquet", CancellationToken.None).WaitAsync(_timeout);

        Assert.Equal(content, read);
    }

    [Fact]
    public async Task PutAsync_ExistingKey_OverwritesWholeObject()
    {
        using var store = CreateStore();

        await store.PutAsync("a/b", Encoding.UTF8.GetBytes("first version, longer"), CancellationToken.None).WaitAsync(_timeout);
        await store.PutAsync("a/b", Encoding.UTF8.GetBytes("second"), CancellationToken.None).WaitAsync(_timeout);

        Assert.Equal("second", Encoding.UTF8.GetString(await store.GetAsync("a/b", CancellationToken.None).WaitAsync(_timeout)));
        Assert.Equal(["a/b"], await ToListAsync(store.ListAsync("a/", CancellationToken.None)));
    }

    [Fact]
    public async Task GetAsync_MissingKey_ThrowsFileNotFound()
    {
        using var store = CreateStore();
        await store.PutAsync("present", new byte[] { 1 }, CancellationToken.None).WaitAsync(_timeout);

        var ex = await Assert.ThrowsAsync<FileNotFoundException>(() => store.GetAsync("absent/key", CancellationToken.None).WaitAsync(_timeout));

        Assert.Equal("absent/key", ex.FileName);
    }

    [Fact]
    public async Task GetAsync_MissingBucket_ThrowsFileNotFound()
    {
        using var store = CreateStore();

        await Assert.ThrowsAsync<FileNotFoundException>(() => store.GetAsync("any", CancellationToken.None).WaitAsync(_timeout));
    }

    [Fact]
    public async Task GetAsync_ObjectCorruptedOnStoreDisk_ThrowsInvalidData()
    {
        using var store = CreateStore();
        var content = RandomBytes(4096, seed: 2);
        await store.PutAsync("victim", content, CancellationToken.None).WaitAsync(_timeout);

        // Flip one byte of the object server's data file in place (its metadata lives in xattrs):
        // Swift serves the bytes before its own MD5 check can object, so the client must notice.
        var dataFile = Assert.Single(
            Directory.EnumerateFiles(Path.Combine(_swift.Server.Directory, "srv"), "*.data", SearchOption.AllDirectories),
            f => new FileInfo(f).Length == content.Length && File.ReadAllBytes(f).AsSpan().SequenceEqual(content));
        await using (var file = new FileStream(dataFile, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = 100;
            file.WriteByte((byte)(content[100] ^ 0xff));
        }

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => store.GetAsync("victim", CancellationToken.None).WaitAsync(_timeout));

        Assert.Contains("ETag", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListAsync_MoreKeysThanOnePage_ReturnsAllUnderPrefixInOrdinalOrder()
    {
        using var store = CreateStore(o => o.ListPageSize = 3);
        var expected = new List<string>();
        for (var i = 0; i < 11; i++)
        {
            var key = $"records/stream=s/node=n{i % 3}/date=2026-11-2{i % 2}/part-{i:D4}.parquet";
            expected.Add(key);
            await store.PutAsync(key, new byte[] { (byte)i }, CancellationToken.None).WaitAsync(_timeout);
        }

        await store.PutAsync("losses/node=n0/0001.parquet", new byte[] { 9 }, CancellationToken.None).WaitAsync(_timeout);
        await store.PutAsync("recordsX/other", new byte[] { 9 }, CancellationToken.None).WaitAsync(_timeout);
        expected.Sort(StringComparer.Ordinal);

        var listed = await ToListAsync(store.ListAsync("records/", CancellationToken.None));

        Assert.Equal(expected, listed);
        Assert.Equal(13, (await ToListAsync(store.ListAsync(string.Empty, CancellationToken.None))).Count);
    }

    [Fact]
    public async Task ListAsync_MissingBucket_ReturnsNothing()
    {
        using var store = CreateStore();

        Assert.Empty(await ToListAsync(store.ListAsync("records/", CancellationToken.None)));
    }

    [Fact]
    public async Task PutAsync_WithPrefix_StoresUnderPrefixAndListsRelativeKeys()
    {
        using var store = CreateStore(o => o.Prefix = "lake/v1");

        await store.PutAsync("records/x.parquet", new byte[] { 1, 2, 3 }, CancellationToken.None).WaitAsync(_timeout);

        var raw = await _client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _bucket });
        Assert.Equal(["lake/v1/records/x.parquet"], (raw.S3Objects ?? []).Select(o => o.Key));
        Assert.Equal(["records/x.parquet"], await ToListAsync(store.ListAsync("records/", CancellationToken.None)));
        Assert.Equal([1, 2, 3], await store.GetAsync("records/x.parquet", CancellationToken.None).WaitAsync(_timeout));
    }

    [Theory]
    [InlineData("")]
    [InlineData("/leading")]
    [InlineData("a//b")]
    [InlineData("a/../b")]
    [InlineData("trailing/")]
    public async Task PutAsync_InvalidKey_ThrowsArgumentException(string key)
    {
        using var store = CreateStore();

        await Assert.ThrowsAnyAsync<ArgumentException>(() => store.PutAsync(key, new byte[] { 1 }, CancellationToken.None));
    }

    [Fact]
    public async Task PutAsync_BucketNameTheStoreRejects_ThrowsErrorNamingKeyAndValue()
    {
        // Past options validation (a store built by hand): the store's refusal must still be clear.
        using var store = CreateStore(o => o.Bucket = "Bad_Bucket");

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => store.PutAsync("k", new byte[] { 1 }, CancellationToken.None).WaitAsync(_timeout));

        Assert.Contains("DataLake:S3:Bucket = 'Bad_Bucket'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("InvalidBucketName", ex.Message, StringComparison.Ordinal);
    }

    private S3BlobStore CreateStore(Action<S3BlobStoreOptions>? configure = null)
    {
        var options = new S3BlobStoreOptions
        {
            ServiceUrl = _swift.Server.Endpoint.ToString(),
            Bucket = _bucket,
            AccessKey = _swift.Server.AccessKey,
            SecretKey = _swift.Server.SecretKey,
            Region = SwiftS3Server.Region,
        };
        configure?.Invoke(options);
        return new S3BlobStore(Options.Create(options), NullLogger<S3BlobStore>.Instance);
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task<List<string>> ToListAsync(IAsyncEnumerable<string> source)
    {
        var list = new List<string>();
        await foreach (var item in source.WithCancellation(CancellationToken.None))
        {
            list.Add(item);
        }

        return list;
    }
}
