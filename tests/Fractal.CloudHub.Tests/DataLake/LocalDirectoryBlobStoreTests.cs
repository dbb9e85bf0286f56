using System.Text;
using Fractal.CloudHub.DataLake;
using Fractal.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fractal.CloudHub.Tests.DataLake;

public sealed class LocalDirectoryBlobStoreTests
{
    private static LocalDirectoryBlobStore Store(TestDirectory dir) => new(dir.Combine("blobs"), NullLogger<LocalDirectoryBlobStore>.Instance);

    [Fact]
    public async Task PutAsync_WhileReadersPoll_ReadersSeeNothingOrAWholeVersionNeverAPartialFile()
    {
        using var dir = new TestDirectory("atomic");
        var store = Store(dir);
        const string key = "records/stream=s/node=n/obj.bin";

        // Versions of different sizes and fill bytes: a torn read shows as a wrong length or a mixed fill.
        var versions = Enumerable.Range(1, 6).Select(v => Enumerable.Repeat((byte)v, 256 * 1024 * v).ToArray()).ToArray();
        using var done = new CancellationTokenSource();
        var observed = 0;
        var absent = 0;

        async Task Reader()
        {
            while (!done.IsCancellationRequested)
            {
                byte[] content;
                try
                {
                    content = await store.GetAsync(key, CancellationToken.None);
                }
                catch (FileNotFoundException)
                {
                    Interlocked.Increment(ref absent);
                    await Task.Yield();
                    continue;
                }

                var version = content[0];
                Assert.InRange((int)version, 1, 6);
                Assert.Equal(versions[version - 1].Length, content.Length);
                Assert.True(content.AsSpan().IndexOfAnyExcept(version) < 0, "mixed content: a partial write was visible");
                Interlocked.Increment(ref observed);
                await foreach (var listed in store.ListAsync("records/", CancellationToken.None))
                {
                    Assert.Equal(key, listed);
                }
            }
        }

        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(Reader)).ToArray();
        for (var round = 0; round < 20; round++)
        {
            await store.PutAsync(key, versions[round % versions.Length], CancellationToken.None);
        }

        await done.CancelAsync();
        await Task.WhenAll(readers).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(observed > 0);
        Assert.Equal(versions[19 % versions.Length], await store.GetAsync(key, CancellationToken.None));
        Assert.Single(Directory.EnumerateFiles(store.Root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task PutAsync_CancelledBeforeWrite_LeavesNoObjectAndNoTemporaryFile()
    {
        using var dir = new TestDirectory("cancel");
        var store = Store(dir);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.PutAsync("a/b.bin", new byte[1024], cancelled.Token));

        await Assert.ThrowsAsync<FileNotFoundException>(() => store.GetAsync("a/b.bin", CancellationToken.None));
        Assert.Empty(Directory.EnumerateFiles(store.Root, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task ListAsync_Prefix_ReturnsMatchingKeysInOrdinalOrderWithoutTemporaryFiles()
    {
        using var dir = new TestDirectory("list");
        var store = Store(dir);
        foreach (var key in new[] { "records/stream=b/x", "records/stream=a/node=2/y", "records/stream=a/node=1/z", "losses/node=1/l", "records/stream=ab/w" })
        {
            await store.PutAsync(key, Encoding.UTF8.GetBytes(key), CancellationToken.None);
        }

        // Debris of an interrupted write: hidden, never listed.
        await File.WriteAllTextAsync(Path.Combine(store.Root, "records", "stream=a", ".z.123.tmp"), "partial");

        var all = await ToListAsync(store.ListAsync("records/", CancellationToken.None));
        var streamA = await ToListAsync(store.ListAsync("records/stream=a", CancellationToken.None));
        var streamADir = await ToListAsync(store.ListAsync("records/stream=a/", CancellationToken.None));
        var none = await ToListAsync(store.ListAsync("nothing/here/", CancellationToken.None));

        Assert.Equal(["records/stream=a/node=1/z", "records/stream=a/node=2/y", "records/stream=ab/w", "records/stream=b/x"], all);
        Assert.Equal(["records/stream=a/node=1/z", "records/stream=a/node=2/y", "records/stream=ab/w"], streamA);
        Assert.Equal(["records/stream=a/node=1/z", "records/stream=a/node=2/y"], streamADir);
        Assert.Empty(none);
        Assert.Equal("losses/node=1/l"u8.ToArray(), await store.GetAsync("losses/node=1/l", CancellationToken.None));
    }

    [Fact]
    public async Task Constructor_TemporaryFileFromCrashedWrite_RemovesItAndKeepsObjects()
    {
        using var dir = new TestDirectory("stale");
        var first = Store(dir);
        await first.PutAsync("a/kept.bin", new byte[] { 1, 2, 3 }, CancellationToken.None);
        var debris = Path.Combine(first.Root, "a", ".lost.bin.0123abcd.tmp");
        await File.WriteAllTextAsync(debris, "half");

        var second = Store(dir);

        Assert.False(File.Exists(debris));
        Assert.Equal([1, 2, 3], await second.GetAsync("a/kept.bin", CancellationToken.None));
    }

    [Fact]
    public async Task GetAsync_MissingKey_ThrowsFileNotFound()
    {
        using var dir = new TestDirectory("missing");
        var store = Store(dir);

        await Assert.ThrowsAsync<FileNotFoundException>(() => store.GetAsync("no/such/key", CancellationToken.None));
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("a/../../escape")]
    [InlineData("/absolute")]
    [InlineData("a//b")]
    [InlineData("a/.hidden")]
    [InlineData("a\\b")]
    public async Task PutAsync_KeyLeavingTheRootOrHidden_ThrowsArgumentAndWritesNothing(string key)
    {
        using var dir = new TestDirectory("keys");
        var store = Store(dir);

        await Assert.ThrowsAsync<ArgumentException>(() => store.PutAsync(key, new byte[] { 1 }, CancellationToken.None));

        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(dir.Path, "*", SearchOption.AllDirectories), p => !p.StartsWith(store.Root, StringComparison.Ordinal));
        Assert.Empty(Directory.EnumerateFiles(store.Root, "*", SearchOption.AllDirectories));
    }

    private static async Task<List<string>> ToListAsync(IAsyncEnumerable<string> source)
    {
        var list = new List<string>();
        await foreach (var item in source)
        {
            list.Add(item);
        }

        return list;
    }
}
