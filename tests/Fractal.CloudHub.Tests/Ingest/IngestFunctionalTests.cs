using System.Net;
using System.Text.Json;
using Fractal.Contracts.Ingest;
using Fractal.Testing;
using Grpc.Core;

namespace Fractal.CloudHub.Tests.Ingest;

public sealed class IngestFunctionalTests
{
    [Fact]
    public async Task Upload_ValidBatches_AckedAndReadBackFromParquetWithValuesShapesLabels()
    {
        await using var hub = await TestHub.StartAsync();
        var stream = Unique.Name("temp");
        var batch = new RecordBatch { NodeId = "node-a", Stream = stream };
        batch.Records.Add(Records.Record(1, shape: [3], values: [1.5f, -2.25f, 3e10f], label: 7));
        batch.Records.Add(Records.Record(2, shape: [2, 2], values: [0f, 1f, 2f, float.NaN], label: null));
        batch.Records.Add(Records.Record(5, shape: [1, 1, 2], values: [float.MaxValue, float.Epsilon]));

        var acks = await hub.UploadAsync(batch, Records.Batch("node-a", stream, 6, 9));

        Assert.Equal(2, acks.Count);
        Assert.Equal(new BatchAck { Stream = stream, LastSequence = 5, Accepted = 3, Duplicates = 0 }, acks[0]);
        Assert.Equal(new BatchAck { Stream = stream, LastSequence = 9, Accepted = 4, Duplicates = 0 }, acks[1]);

        var records = (await hub.ReadAllRecordsAsync(stream)).OrderBy(r => r.Sequence).ToList();
        Assert.Equal([1UL, 2, 5, 6, 7, 8, 9], records.Select(r => r.Sequence));
        Assert.All(records, r => Assert.Equal(("node-a", stream), (r.NodeId, r.Stream)));

        Assert.Equal([3], records[0].Shape);
        Assert.Equal([1.5f, -2.25f, 3e10f], records[0].Values);
        Assert.Equal(7, records[0].Label);
        Assert.Equal(Records.BaseTime.AddSeconds(1), records[0].Timestamp);
        Assert.Equal(1, records[0].Priority);

        // The record with label 0 absent stays null, not 0.
        Assert.Equal([2, 2], records[1].Shape);
        Assert.Equal(2, records[1].Label);
        Assert.True(float.IsNaN(records[1].Values[3]));

        Assert.Equal([1, 1, 2], records[2].Shape);
        Assert.Equal([float.MaxValue, float.Epsilon], records[2].Values);
        Assert.Null(records[2].Label);

        var seven = records.Single(r => r.Sequence == 7);
        Assert.Equal([7f, 7.1f, 7.2f, 7.3f, 7.4f, 7.5f], seven.Values);
        Assert.Null(seven.Label);
        Assert.Equal(8 % 10, records.Single(r => r.Sequence == 8).Label);
    }

    [Fact]
    public async Task Upload_SameBatchTwice_SecondAckIsAllDuplicatesAndLakeHoldsOneCopy()
    {
        await using var hub = await TestHub.StartAsync();
        var stream = Unique.Name("s");
        var batch = Records.Batch("n1", stream, 1, 50);

        var first = await hub.UploadAsync(batch);
        var second = await hub.UploadAsync(batch);

        Assert.Equal((50u, 0u), (first[0].Accepted, first[0].Duplicates));
        Assert.Equal((0u, 50u), (second[0].Accepted, second[0].Duplicates));
        Assert.Equal(50UL, second[0].LastSequence);
        var sequences = (await hub.ReadAllRecordsAsync(stream)).Select(r => r.Sequence).Order().ToList();
        Assert.Equal(Enumerable.Range(1, 50).Select(i => (ulong)i), sequences);
    }

    [Fact]
    public async Task Upload_OverlappingBatches_DropsExactlyTheOverlap()
    {
        await using var hub = await TestHub.StartAsync();
        var stream = Unique.Name("s");

        var acks = await hub.UploadAsync(
            Records.Batch("n1", stream, 1, 10),
            Records.Batch("n1", stream, 6, 15),   // 6..10 again
            Records.Batch("n1", stream, 15, 20),  // 15 again
            Records.Batch("n2", stream, 1, 5));   // another node: its own sequence space

        Assert.Equal([(10u, 0u), (5u, 5u), (5u, 1u), (5u, 0u)], acks.Select(a => (a.Accepted, a.Duplicates)));
        var triples = (await hub.ReadAllRecordsAsync(stream)).Select(r => (r.NodeId, r.Sequence)).ToList();
        Assert.Equal(triples.Count, triples.Distinct().Count());
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (ulong)i), triples.Where(t => t.NodeId == "n1").Select(t => t.Sequence).Order());
        Assert.Equal(Enumerable.Range(1, 5).Select(i => (ulong)i), triples.Where(t => t.NodeId == "n2").Select(t => t.Sequence).Order());
    }

    [Fact]
    public async Task Upload_HubRestartedOverSameLake_RedeliveredRecordsAreDuplicates()
    {
        using var dir = new TestDirectory("restart");
        var root = dir.Combine("lake");
        var stream = Unique.Name("s");
        await using (var hub = await TestHub.StartAsync(root))
        {
            await hub.UploadAsync(Records.Batch("n1", stream, 1, 30));
        }

        await using (var hub = await TestHub.StartAsync(root))
        {
            var acks = await hub.UploadAsync(Records.Batch("n1", stream, 21, 40));

            Assert.Equal((10u, 10u), (acks[0].Accepted, acks[0].Duplicates));
            Assert.Equal(Enumerable.Range(1, 40).Select(i => (ulong)i), (await hub.ReadAllRecordsAsync(stream)).Select(r => r.Sequence).Order());
        }
    }

    [Fact]
    public async Task Upload_LakeStorageFails_UnavailableWithoutAckAndRetrySucceedsOnceStorageRecovers()
    {
        using var dir = new TestDirectory("broken");
        var root = dir.Combine("lake");
        Directory.CreateDirectory(root);
        var blocker = Path.Combine(root, "records");
        await File.WriteAllTextAsync(blocker, "a file where the records directory belongs");
        await using var hub = await TestHub.StartAsync(root);
        var batch = Records.Batch("n1", Unique.Name("s"), 1, 5);

        var ex = await Assert.ThrowsAsync<RpcException>(() => hub.UploadAsync(batch));
        Assert.Equal(StatusCode.Unavailable, ex.StatusCode);

        File.Delete(blocker);
        var acks = await hub.UploadAsync(batch);
        Assert.Equal((5u, 0u), (acks[0].Accepted, acks[0].Duplicates));
    }

    public static TheoryData<string, string> HostileBatches => new()
    {
        { "empty-node", "node_id is empty" },
        { "long-node", "node_id has 129 characters" },
        { "node-path", "node_id '../../etc' contains characters outside" },
        { "empty-stream", "stream is empty" },
        { "stream-slash", "stream 'a/b' contains characters outside" },
        { "long-stream", "stream has 65 characters" },
        { "no-records", "records is empty" },
        { "too-many-records", "records has 101 entries; the limit is 100" },
        { "zero-sequence", "records[0].sequence is 0" },
        { "descending", "records[2].sequence 2 is not greater than records[1].sequence 3" },
        { "repeated-sequence", "records[1].sequence 1 is not greater than records[0].sequence 1" },
        { "huge-sequence", "records[0].sequence 9223372036854775808 exceeds" },
        { "shape-mismatch", "records[1].values has 20 bytes; shape [2,3] needs 24" },
        { "ragged-values", "records[0].values has 23 bytes" },
        { "empty-shape", "records[0].shape is empty" },
        { "negative-dimension", "records[0].shape[1] is -3" },
        { "absurd-shape", "records[0].shape [100000,100000,100000] has more than" },
        { "deep-shape", "records[0].shape has 9 dimensions" },
        { "timestamp", "records[0].timestamp_unix_ms" },
    };

    [Theory]
    [MemberData(nameof(HostileBatches))]
    public async Task Upload_HostileBatch_InvalidArgumentNamingFieldAndNothingWritten(string kind, string expectedMessage)
    {
        await using var hub = await TestHub.StartAsync(null, "--Ingest:MaxBatchRecords=100");
        var stream = Unique.Name("s");
        var good = Records.Batch("n1", stream, 1, 3);

        // A valid batch first on the same call: it is acked, the hostile one fails the call.
        using var call = hub.Client.Upload(cancellationToken: TestHub.Timeout());
        await call.RequestStream.WriteAsync(good);
        Assert.True(await call.ResponseStream.MoveNext(TestHub.Timeout()));
        await call.RequestStream.WriteAsync(Hostile(kind, stream));
        var ex = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(TestHub.Timeout()));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains(expectedMessage, ex.Status.Detail, StringComparison.Ordinal);
        var all = await hub.ReadAllRecordsAsync();
        Assert.Equal([1UL, 2, 3], all.Select(r => r.Sequence).Order().ToList());
        Assert.All(all, r => Assert.Equal(("n1", stream), (r.NodeId, r.Stream)));
        Assert.DoesNotContain(Directory.EnumerateFiles(hub.LakeRoot, "*", SearchOption.AllDirectories), f => !f.EndsWith(".parquet", StringComparison.Ordinal));
    }

    private static RecordBatch Hostile(string kind, string stream)
    {
        var b = Records.Batch("n1", stream, 4, 6);
        switch (kind)
        {
            case "empty-node": b.NodeId = string.Empty; break;
            case "long-node": b.NodeId = new string('n', 129); break;
            case "node-path": b.NodeId = "../../etc"; break;
            case "empty-stream": b.Stream = string.Empty; break;
            case "stream-slash": b.Stream = "a/b"; break;
            case "long-stream": b.Stream = new string('s', 65); break;
            case "no-records": b.Records.Clear(); break;
            case "too-many-records": b = Records.Batch("n1", stream, 4, 104); break;
            case "zero-sequence": b.Records[0].Sequence = 0; break;
            case "descending": b.Records[1].Sequence = 3; b.Records[2].Sequence = 2; b.Records[0].Sequence = 1; break;
            case "repeated-sequence": b.Records[0].Sequence = 1; b.Records[1].Sequence = 1; break;
            case "huge-sequence": b.Records.Clear(); b.Records.Add(Records.Record((ulong)long.MaxValue + 1, at: Records.BaseTime)); break;
            case "shape-mismatch": b.Records[1].Values = Records.Floats([1, 2, 3, 4, 5]); break;
            case "ragged-values": b.Records[0].Values = Google.Protobuf.ByteString.CopyFrom(new byte[23]); break;
            case "empty-shape": b.Records[0].Shape.Clear(); break;
            case "negative-dimension": b.Records[0].Shape[1] = -3; break;
            case "absurd-shape": b.Records[0].Shape.Clear(); b.Records[0].Shape.AddRange([100000, 100000, 100000]); break;
            case "deep-shape": b.Records[0].Shape.Clear(); b.Records[0].Shape.AddRange(Enumerable.Repeat(1, 9)); break;
            case "timestamp": b.Records[0].TimestampUnixMs = long.MaxValue; break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }

        return b;
    }

    [Fact]
    public async Task Upload_MessageOverMaxMessageBytes_ResourceExhaustedAndNothingWritten()
    {
        await using var hub = await TestHub.StartAsync(null, "--Ingest:MaxMessageBytes=65536");
        var stream = Unique.Name("big");
        var batch = new RecordBatch { NodeId = "n1", Stream = stream };
        batch.Records.Add(Records.Record(1, shape: [20000], values: new float[20000]));

        var ex = await Assert.ThrowsAsync<RpcException>(() => hub.UploadAsync(batch));

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Empty(await hub.ReadAllRecordsAsync());
    }

    [Fact]
    public async Task ReportLosses_SameEntriesTwiceAndOverlapping_RecordedOncePerLedgerId()
    {
        await using var hub = await TestHub.StartAsync();
        var stream = Unique.Name("s");
        var report = Losses("n1", (1, stream, [4, 5, 6]), (2, stream, [9]));

        var first = await hub.Client.ReportLossesAsync(report, cancellationToken: TestHub.Timeout());
        var again = await hub.Client.ReportLossesAsync(report, cancellationToken: TestHub.Timeout());
        var overlap = await hub.Client.ReportLossesAsync(Losses("n1", (2, stream, [9]), (3, stream, [12, 13])), cancellationToken: TestHub.Timeout());
        await hub.Client.ReportLossesAsync(Losses("n2", (1, stream, [1])), cancellationToken: TestHub.Timeout());

        Assert.Equal(new ulong[] { 2, 2, 3 }, new[] { first.LastLedgerId, again.LastLedgerId, overlap.LastLedgerId });
        var losses = await hub.Lake.ReadLossesAsync(null, TestHub.Timeout());
        Assert.Equal([("n1", 1UL), ("n1", 2UL), ("n1", 3UL), ("n2", 1UL)], losses.Select(l => (l.NodeId, l.LedgerId)).Order());
        var one = losses.Single(l => l.NodeId == "n1" && l.LedgerId == 1);
        Assert.Equal([4UL, 5, 6], one.Sequences);
        Assert.Equal(("evicted", stream, 1234UL), (one.Reason, one.Stream, one.Bytes));
        Assert.Equal(Records.BaseTime, one.LostAt);
    }

    [Fact]
    public async Task ReportLosses_HubRestarted_ResentEntriesStillDeduplicated()
    {
        using var dir = new TestDirectory("losses");
        var root = dir.Combine("lake");
        var stream = Unique.Name("s");
        await using (var hub = await TestHub.StartAsync(root))
        {
            await hub.Client.ReportLossesAsync(Losses("n1", (7, stream, [1, 2])), cancellationToken: TestHub.Timeout());
        }

        await using (var hub = await TestHub.StartAsync(root))
        {
            await hub.Client.ReportLossesAsync(Losses("n1", (7, stream, [1, 2]), (8, stream, [3])), cancellationToken: TestHub.Timeout());

            var losses = await hub.Lake.ReadLossesAsync("n1", TestHub.Timeout());
            Assert.Equal([7UL, 8], losses.Select(l => l.LedgerId).Order().ToList());
        }
    }

    [Theory]
    [InlineData("", "s", "evicted", "node_id is empty")]
    [InlineData("n/1", "s", "evicted", "node_id 'n/1' contains characters outside")]
    [InlineData("n1", "", "evicted", "entries[0].stream is empty")]
    [InlineData("n1", "s s", "evicted", "entries[0].stream 's s' contains characters outside")]
    [InlineData("n1", "s", "", "entries[0].reason")]
    public async Task ReportLosses_HostileReport_InvalidArgumentAndNothingRecorded(string node, string stream, string reason, string expectedMessage)
    {
        await using var hub = await TestHub.StartAsync();
        var report = Losses(node, (1, stream, [1]));
        report.Entries[0].Reason = reason;

        var ex = await Assert.ThrowsAsync<RpcException>(() => hub.Client.ReportLossesAsync(report, cancellationToken: TestHub.Timeout()).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains(expectedMessage, ex.Status.Detail, StringComparison.Ordinal);
        Assert.Empty(await hub.Lake.ReadLossesAsync(null, TestHub.Timeout()));
    }

    [Fact]
    public async Task ReportLosses_DescendingSequences_InvalidArgument()
    {
        await using var hub = await TestHub.StartAsync();

        var ex = await Assert.ThrowsAsync<RpcException>(() => hub.Client.ReportLossesAsync(Losses("n1", (1, "s", [5, 4])), cancellationToken: TestHub.Timeout()).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Contains("entries[0].sequences[1] is 4", ex.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LakeSummary_AfterUploadsAndLosses_ReturnsCountsPerStreamAndNode()
    {
        await using var hub = await TestHub.StartAsync();
        var a = Unique.Name("a");
        var b = Unique.Name("b");
        await hub.UploadAsync(Records.Batch("n1", a, 1, 10), Records.Batch("n1", a, 11, 12), Records.Batch("n2", a, 1, 3), Records.Batch("n1", b, 1, 1));
        await hub.Client.ReportLossesAsync(Losses("n1", (1, a, [13, 14, 15]), (2, b, [2])), cancellationToken: TestHub.Timeout());

        using var response = await hub.Http.GetAsync(new Uri("/api/lake/summary", UriKind.Relative), TestHub.Timeout());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new Version(1, 1), response.Version);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var rows = json.RootElement.GetProperty("partitions").EnumerateArray()
            .Select(p => (
                Stream: p.GetProperty("stream").GetString(),
                Node: p.GetProperty("nodeId").GetString(),
                Records: p.GetProperty("records").GetInt64(),
                Files: p.GetProperty("files").GetInt32(),
                Mark: p.GetProperty("highWaterMark").GetUInt64(),
                Lost: p.GetProperty("lostRecords").GetInt64()))
            .ToList();
        Assert.Equal(
            [(a, "n1", 12L, 2, 12UL, 3L), (a, "n2", 3L, 1, 3UL, 0L), (b, "n1", 1L, 1, 1UL, 1L)],
            rows);
        Assert.Equal(16, json.RootElement.GetProperty("totalRecords").GetInt64());
        Assert.Equal(4, json.RootElement.GetProperty("totalLostRecords").GetInt64());
    }

    [Fact]
    public async Task MetricsAndHealthz_OverHttp11_ExposeIngestCountersAndHealthy()
    {
        await using var hub = await TestHub.StartAsync();
        var stream = Unique.Name("m");
        await hub.UploadAsync(Records.Batch("n1", stream, 1, 4), Records.Batch("n1", stream, 3, 5));

        var metrics = await hub.Http.GetStringAsync(new Uri("/metrics", UriKind.Relative), TestHub.Timeout());
        var health = await hub.Http.GetStringAsync(new Uri("/healthz", UriKind.Relative), TestHub.Timeout());

        Assert.Equal("Healthy", health);
        // Counters are process-wide (other tests add to them); these uploads alone guarantee the minimums.
        Assert.True(Counter(metrics, "fractal_hub_records_accepted_total") >= 5);
        Assert.True(Counter(metrics, "fractal_hub_records_duplicate_total") >= 2);
        Assert.Contains("fractal_hub_batches_rejected_total{rpc=\"Upload\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("fractal_hub_lost_records_total", metrics, StringComparison.Ordinal);
    }

    private static double Counter(string exposition, string name)
    {
        var line = exposition.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal));
        return double.Parse(line[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static LossReport Losses(string node, params (ulong Id, string Stream, ulong[] Sequences)[] entries)
    {
        var report = new LossReport { NodeId = node };
        foreach (var (id, stream, sequences) in entries)
        {
            var entry = new LossEntry { LedgerId = id, Stream = stream, Reason = "evicted", LostAtUnixMs = Records.BaseTime.ToUnixTimeMilliseconds(), Bytes = 1234 };
            entry.Sequences.AddRange(sequences);
            report.Entries.Add(entry);
        }

        return report;
    }
}
