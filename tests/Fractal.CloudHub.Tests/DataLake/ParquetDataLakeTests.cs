using Fractal.CloudHub.DataLake;
using Fractal.Contracts.Ingest;
using Fractal.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Parquet;
using Parquet.Schema;

namespace Fractal.CloudHub.Tests.DataLake;

public sealed class ParquetDataLakeTests
{
    private static LocalDirectoryBlobStore Blobs(TestDirectory dir) => new(dir.Combine("lake"), NullLogger<LocalDirectoryBlobStore>.Instance);

    private static ParquetDataLake Lake(IBlobStore blobs) => new(blobs, NullLogger<ParquetDataLake>.Instance);

    private static CancellationToken Ct => TestHub.Timeout();

    [Fact]
    public async Task AppendAsync_RecordsOnTwoDates_OneFilePerDateNamedByPartitionAndSequenceRange()
    {
        using var dir = new TestDirectory("layout");
        var blobs = Blobs(dir);
        var lake = Lake(blobs);
        var midnight = new DateTimeOffset(2026, 11, 29, 0, 0, 0, TimeSpan.Zero);
        SensorRecord[] records =
        [
            Records.Record(7, at: midnight.AddSeconds(-2)),
            Records.Record(8, at: midnight.AddMilliseconds(-1)),
            Records.Record(9, at: midnight),
            Records.Record(12, at: midnight.AddHours(5)),
        ];

        var result = await lake.AppendAsync("edge-01", "camera.front", records, Ct);

        Assert.Equal(new LakeAppendResult(4, 0), result);
        var keys = new List<string>();
        await foreach (var key in blobs.ListAsync(string.Empty, Ct))
        {
            keys.Add(key);
        }

        Assert.Equal(
        [
            "records/stream=camera.front/node=edge-01/date=2026-11-28/00000000000000000007-00000000000000000008.parquet",
            "records/stream=camera.front/node=edge-01/date=2026-11-29/00000000000000000009-00000000000000000012.parquet",
        ], keys);
    }

    [Fact]
    public async Task AppendAsync_WrittenFile_HasTheLakeSchemaForDuckDbAndPandas()
    {
        using var dir = new TestDirectory("schema");
        var blobs = Blobs(dir);
        await Lake(blobs).AppendAsync("n", "s", [Records.Record(1, label: 4), Records.Record(2)], Ct);
        var path = Directory.EnumerateFiles(blobs.Root, "*.parquet", SearchOption.AllDirectories).Single();

        await using var reader = await ParquetReader.CreateAsync(path, cancellationToken: Ct);

        Assert.Equal(["node", "stream", "sequence", "timestamp", "shape", "values", "label", "priority"], reader.Schema.Fields.Select(f => f.Name));
        var fields = reader.Schema.Fields.ToDictionary(f => f.Name);
        Assert.Equal(typeof(long), ((DataField)fields["sequence"]).ClrType);
        var timestamp = Assert.IsType<DateTimeDataField>(fields["timestamp"]);
        Assert.True(timestamp.IsAdjustedToUTC);
        Assert.Equal(typeof(float), Assert.IsType<DataField>(Assert.IsType<ListField>(fields["values"]).Item).ClrType);
        Assert.Equal(typeof(int), Assert.IsType<DataField>(Assert.IsType<ListField>(fields["shape"]).Item).ClrType);
        Assert.True(((DataField)fields["label"]).IsNullable);
        Assert.False(((DataField)fields["node"]).IsNullable);
        Assert.Equal(2, reader.Metadata!.NumRows);
    }

    [Fact]
    public async Task AppendAsync_NewLakeInstanceOverSameDirectory_DerivesHighWaterMarkFromFileNames()
    {
        using var dir = new TestDirectory("mark");
        await Lake(Blobs(dir)).AppendAsync("n", "s", Records.Batch("n", "s", 1, 10).Records, Ct);

        var restarted = Lake(Blobs(dir));
        var result = await restarted.AppendAsync("n", "s", Records.Batch("n", "s", 5, 12).Records, Ct);

        Assert.Equal(new LakeAppendResult(2, 6), result);
        var sequences = new List<ulong>();
        await foreach (var r in restarted.ReadRecordsAsync("s", "n", Ct))
        {
            sequences.Add(r.Sequence);
        }

        Assert.Equal(Enumerable.Range(1, 12).Select(i => (ulong)i), sequences);
    }

    [Fact]
    public async Task AppendAsync_WriteFailsAfterObjectBecameVisible_RedeliveryIsDroppedAsDuplicates()
    {
        using var dir = new TestDirectory("visible");
        var blobs = new FaultyBlobStore(Blobs(dir)) { FailAfterWrite = true };
        var lake = Lake(blobs);
        var batch = Records.Batch("n", "s", 1, 5).Records;

        await Assert.ThrowsAsync<IOException>(() => lake.AppendAsync("n", "s", batch, Ct));
        blobs.FailAfterWrite = false;
        var retry = await lake.AppendAsync("n", "s", batch, Ct);

        Assert.Equal(new LakeAppendResult(0, 5), retry);
        Assert.Single(Directory.EnumerateFiles(dir.Path, "*.parquet", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task AppendAsync_WriteFailsBeforeObjectBecameVisible_RedeliveryIsAccepted()
    {
        using var dir = new TestDirectory("invisible");
        var blobs = new FaultyBlobStore(Blobs(dir)) { FailBeforeWrite = true };
        var lake = Lake(blobs);
        var batch = Records.Batch("n", "s", 1, 5).Records;

        await Assert.ThrowsAsync<IOException>(() => lake.AppendAsync("n", "s", batch, Ct));
        blobs.FailBeforeWrite = false;
        var retry = await lake.AppendAsync("n", "s", batch, Ct);

        Assert.Equal(new LakeAppendResult(5, 0), retry);
    }

    [Fact]
    public async Task AppendAsync_ConcurrentRedeliveriesOfSamePartition_EachRecordStoredExactlyOnce()
    {
        using var dir = new TestDirectory("concurrent");
        var lake = Lake(Blobs(dir));

        // Four deliveries of the same ordered stream race each other (at-least-once, in order per delivery).
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            var total = new LakeAppendResult(0, 0);
            for (ulong first = 1; first <= 100; first += 10)
            {
                var r = await lake.AppendAsync("n", "s", Records.Batch("n", "s", first, first + 9).Records, Ct);
                total = new LakeAppendResult(total.Accepted + r.Accepted, total.Duplicates + r.Duplicates);
            }

            return total;
        })));

        Assert.Equal(100, results.Sum(r => r.Accepted));
        Assert.Equal(300, results.Sum(r => r.Duplicates));
        var sequences = new List<ulong>();
        await foreach (var r in lake.ReadRecordsAsync("s", null, Ct))
        {
            sequences.Add(r.Sequence);
        }

        Assert.Equal(Enumerable.Range(1, 100).Select(i => (ulong)i), sequences.Order());
    }

    [Theory]
    [InlineData("../n", "s")]
    [InlineData("n", "s/../../x")]
    [InlineData("", "s")]
    public async Task AppendAsync_NameThatIsNotAPathSegment_ThrowsArgumentAndWritesNothing(string node, string stream)
    {
        using var dir = new TestDirectory("names");
        var lake = Lake(Blobs(dir));

        await Assert.ThrowsAsync<ArgumentException>(() => lake.AppendAsync(node, stream, Records.Batch(node, stream, 1, 2).Records, Ct));

        Assert.Empty(Directory.EnumerateFiles(dir.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task AppendAsync_DescendingSequences_ThrowsArgument()
    {
        using var dir = new TestDirectory("order");
        var lake = Lake(Blobs(dir));

        await Assert.ThrowsAsync<ArgumentException>(() => lake.AppendAsync("n", "s", [Records.Record(2), Records.Record(1)], Ct));
    }

    [Fact]
    public async Task AppendLossesAsync_RepeatedIdsInOneReportAndAcrossReports_CountedOnce()
    {
        using var dir = new TestDirectory("ledger");
        var lake = Lake(Blobs(dir));
        static LossEntry Entry(ulong id) => new() { LedgerId = id, Stream = "s", Reason = "expired", LostAtUnixMs = 1, Sequences = { id * 10 } };

        var first = await lake.AppendLossesAsync("n", [Entry(3), Entry(3), Entry(1)], Ct);
        var second = await lake.AppendLossesAsync("n", [Entry(1), Entry(2), Entry(3)], Ct);
        var third = await lake.AppendLossesAsync("n", [Entry(2)], Ct);

        Assert.Equal((2, 1, 0), (first, second, third));
        var losses = await Lake(Blobs(dir)).ReadLossesAsync("n", Ct);
        Assert.Equal([1UL, 2, 3], losses.Select(l => l.LedgerId).Order().ToList());
        Assert.Equal([20UL], losses.Single(l => l.LedgerId == 2).Sequences);
    }

    /// <summary>Fault injection around the real store: fails a put before or after the object became visible.</summary>
    private sealed class FaultyBlobStore(IBlobStore inner) : IBlobStore
    {
        public bool FailBeforeWrite { get; set; }

        public bool FailAfterWrite { get; set; }

        public async Task PutAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
        {
            if (FailBeforeWrite)
            {
                throw new IOException("injected: disk full");
            }

            await inner.PutAsync(key, content, cancellationToken);
            if (FailAfterWrite)
            {
                throw new IOException("injected: directory fsync failed");
            }
        }

        public IAsyncEnumerable<string> ListAsync(string prefix, CancellationToken cancellationToken) => inner.ListAsync(prefix, cancellationToken);

        public Task<byte[]> GetAsync(string key, CancellationToken cancellationToken) => inner.GetAsync(key, cancellationToken);
    }
}
