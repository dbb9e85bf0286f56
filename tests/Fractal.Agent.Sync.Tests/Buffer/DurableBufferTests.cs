using System.Buffers.Binary;
using Fractal.Agent.Sync.Buffer;
using Fractal.Testing;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace Fractal.Agent.Sync.Tests.Buffer;

public sealed class DurableBufferTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TestDirectory _dir = new("buffer");

    public void Dispose() => _dir.Dispose();

    private static Dictionary<string, StreamPolicy> Streams(params (string Name, StreamPolicy Policy)[] streams)
        => streams.ToDictionary(s => s.Name, s => s.Policy);

    [Fact]
    public async Task Append_AssignsPerStreamSequences_ReadReturnsThemInOrder()
    {
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("a", new StreamPolicy()), ("b", new StreamPolicy())));

        var outcomes = new List<AppendOutcome>();
        for (var i = 0; i < 5; i++)
        {
            outcomes.Add(await buffer.AppendAsync(TestBuffers.Reading("a", i)));
            outcomes.Add(await buffer.AppendAsync(TestBuffers.Reading("b", 100 + i)));
        }

        Assert.All(outcomes, o => Assert.Equal(AppendStatus.Stored, o.Status));
        var a = buffer.Read("a", 0, 100, long.MaxValue);
        Assert.Equal([1UL, 2, 3, 4, 5], a.Select(r => r.Sequence));
        Assert.Equal([0f, 1, 2, 3, 4], a.Select(TestBuffers.FirstValue));
        Assert.Equal([3UL, 4, 5], buffer.Read("b", 2, 100, long.MaxValue).Select(r => r.Sequence));
    }

    [Fact]
    public async Task Append_ConcurrentWriters_AreGroupCommittedWithoutGapsOrDuplicates()
    {
        var metrics = new Metrics.SyncMetrics();
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("s", new StreamPolicy())), metrics: metrics);

        var tasks = Enumerable.Range(0, 2000).Select(i => buffer.AppendAsync(TestBuffers.Reading("s", i)).AsTask()).ToArray();
        var outcomes = await Task.WhenAll(tasks);

        Assert.Equal(Enumerable.Range(1, 2000).Select(i => (ulong)i), outcomes.Select(o => o.Sequence).Order());
        Assert.True(metrics.GroupCommits.Value < 2000, $"expected group commits to batch appends, got {metrics.GroupCommits.Value} commits for 2000 appends");
    }

    [Fact]
    public async Task Readers_WhileTheFirstWritesAreInFlight_SeeOnlyCommittedDataAndLeaveTheFileWorking()
    {
        // Uplinks, the trainer and diagnostics read while the writer creates each collection in
        // its first group: LiteDB 5 closes the database if a reader opens a collection mid-creation.
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("s", new StreamPolicy { TrainingReservoir = 50 })));

        var appends = Task.WhenAll(Enumerable.Range(0, 1000).Select(i => buffer.AppendAsync(TestBuffers.Reading("s", i, label: i % 3)).AsTask()));
        var deadLetters = Task.WhenAll(Enumerable.Range(0, 20).Select(i => buffer.DeadLetterAsync(new DeadLetter("fractal/sensors/s", "malformed", new byte[] { (byte)i })).AsTask()));
        var checks = 0;
        while (!appends.IsCompleted || !deadLetters.IsCompleted)
        {
            var counted = buffer.GetStats().BufferedRecords;
            var visible = buffer.Read("s", 0, int.MaxValue, long.MaxValue).Count;
            Assert.True(visible >= counted, $"stats counted {counted} readings but a reader saw {visible}");
            Assert.True(buffer.ReadTrainingSamples("s").Count <= 50);
            Assert.True(buffer.ReadDeadLetters(100).Count <= 20);
            checks++;
        }

        await appends;
        await deadLetters;
        Assert.True(checks > 0, "no check ran while writes were in flight");
        Assert.Equal(1000, buffer.GetStats().BufferedRecords);
        Assert.Equal(1000, buffer.Read("s", 0, int.MaxValue, long.MaxValue).Count);
        Assert.Equal(50, buffer.ReadTrainingSamples("s").Count);
        Assert.Equal(20, buffer.ReadDeadLetters(100).Count);
        Assert.Equal(AppendStatus.Stored, (await buffer.AppendAsync(TestBuffers.Reading("s", 1000))).Status);
    }

    [Fact]
    public async Task Reopen_AfterClose_KeepsRecordsSequencesAndCheckpoints()
    {
        var streams = Streams(("s", new StreamPolicy()));
        await using (var buffer = TestBuffers.Open(_dir.Path, streams, uplinks: ["hub", "kafka"]))
        {
            for (var i = 0; i < 10; i++)
            {
                await buffer.AppendAsync(TestBuffers.Reading("s", i));
            }

            await buffer.AdvanceCheckpointAsync("hub", "s", 4);
        }

        await using var reopened = TestBuffers.Open(_dir.Path, streams, uplinks: ["hub", "kafka"]);
        Assert.Equal(4UL, reopened.GetCheckpoint("hub", "s"));
        Assert.Equal(10, reopened.Read("s", 0, 100, long.MaxValue).Count);
        Assert.Equal(11UL, (await reopened.AppendAsync(TestBuffers.Reading("s", 10))).Sequence);
        Assert.Equal(10, reopened.GetStats().BufferedRecords - 1);
    }

    [Fact]
    public async Task AdvanceCheckpoint_DeletesOnlyWhatEveryUplinkAcknowledged()
    {
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("s", new StreamPolicy())), uplinks: ["hub", "s3"]);
        for (var i = 0; i < 10; i++)
        {
            await buffer.AppendAsync(TestBuffers.Reading("s", i));
        }

        await buffer.AdvanceCheckpointAsync("hub", "s", 8);
        Assert.Equal(10, buffer.GetStats().BufferedRecords);
        Assert.Equal(2, buffer.Read("s", buffer.GetCheckpoint("hub", "s"), 100, long.MaxValue).Count);

        await buffer.AdvanceCheckpointAsync("s3", "s", 5);
        Assert.Equal(5, buffer.GetStats().BufferedRecords);
        Assert.Equal(6UL, buffer.Read("s", 0, 100, long.MaxValue)[0].Sequence);
    }

    [Fact]
    public async Task QuotaFull_PushBackPolicy_HoldsTheAppendUntilSpaceIsDrained()
    {
        var policy = new StreamPolicy { WhenFull = FullQuotaPolicy.PushBack };
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("s", policy)), o => o.QuotaBytes = 64 * 1024, uplinks: ["hub"]);
        var reading = TestBuffers.Reading("s", 1, size: 1000); // ~4 KiB each
        var stored = 0;
        while (buffer.GetStats().BufferedBytes + 4000 + 200 <= 64 * 1024)
        {
            await buffer.AppendAsync(reading with { });
            stored++;
        }

        var held = buffer.AppendAsync(TestBuffers.Reading("s", 2, size: 1000)).AsTask();
        // The maintenance item is queued behind the append, so once it is done the append has
        // been considered by the writer.
        await buffer.RunMaintenanceAsync();
        Assert.False(held.IsCompleted, "an append over quota under push-back must not complete (no acknowledgement)");
        Assert.Equal(1, buffer.GetStats().BlockedAppends);

        await buffer.AdvanceCheckpointAsync("hub", "s", (ulong)stored);
        var outcome = await held.WaitAsync(Patience);
        Assert.Equal(AppendStatus.Stored, outcome.Status);
        Assert.Equal((ulong)stored + 1, outcome.Sequence);
        Assert.Empty(buffer.ReadLosses(0, 10));
    }

    [Fact]
    public async Task QuotaFull_EvictPolicy_EvictsOldestLowestPriorityFirst_AndLedgerListsExactlyThose()
    {
        var low = new StreamPolicy { Priority = 0, WhenFull = FullQuotaPolicy.EvictOldest };
        var high = new StreamPolicy { Priority = 5, WhenFull = FullQuotaPolicy.EvictOldest };
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("low", low), ("high", high)), o => o.QuotaBytes = 80 * 1024);
        for (var i = 0; i < 8; i++)
        {
            await buffer.AppendAsync(TestBuffers.Reading("low", i, size: 1000));
            await buffer.AppendAsync(TestBuffers.Reading("high", i, size: 1000));
        }

        Assert.Empty(buffer.ReadLosses(0, 10));
        for (var i = 8; i < 20; i++)
        {
            var outcome = await buffer.AppendAsync(TestBuffers.Reading("high", i, size: 1000));
            Assert.Equal(AppendStatus.Stored, outcome.Status);
        }

        var losses = buffer.ReadLosses(0, 100);
        var lostLow = losses.Where(l => l.Stream == "low").SelectMany(l => l.Sequences).ToList();
        var lostHigh = losses.Where(l => l.Stream == "high").SelectMany(l => l.Sequences).ToList();
        var remainingLow = buffer.Read("low", 0, 100, long.MaxValue).Select(r => r.Sequence).ToList();

        // Every low-priority reading goes before any high-priority one, oldest first.
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (ulong)i), lostLow.Concat(remainingLow));
        Assert.Equal(lostLow.Order(), lostLow);
        Assert.DoesNotContain(remainingLow, lostLow.Contains);
        Assert.NotEmpty(lostLow);
        Assert.True(remainingLow.Count == 0 || lostHigh.Count == 0, "high-priority data was evicted while low-priority data remained");
        Assert.All(losses, l => Assert.Equal("evicted", l.Reason));
        Assert.True(buffer.GetStats().BufferedBytes <= 80 * 1024);
    }

    [Fact]
    public async Task QuotaFull_IncomingIsLowestPriority_IsEvictedOnArrivalAndLedgered()
    {
        var low = new StreamPolicy { Priority = -1, WhenFull = FullQuotaPolicy.EvictOldest };
        var high = new StreamPolicy { Priority = 5, WhenFull = FullQuotaPolicy.EvictOldest };
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("low", low), ("high", high)), o => o.QuotaBytes = 64 * 1024);
        while (buffer.GetStats().BufferedBytes + 4200 <= 64 * 1024)
        {
            await buffer.AppendAsync(TestBuffers.Reading("high", 1, size: 1000));
        }

        var outcome = await buffer.AppendAsync(TestBuffers.Reading("low", 1, size: 1000));

        Assert.Equal(AppendStatus.EvictedOnArrival, outcome.Status);
        var loss = Assert.Single(buffer.ReadLosses(0, 10));
        Assert.Equal("low", loss.Stream);
        Assert.Equal([outcome.Sequence], loss.Sequences);
    }

    [Fact]
    public async Task Append_SameSourceIdTwice_SecondIsDuplicateAndNotStored()
    {
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("s", new StreamPolicy())));

        var first = await buffer.AppendAsync(TestBuffers.Reading("s", 1, id: "msg-1"));
        var second = await buffer.AppendAsync(TestBuffers.Reading("s", 1, id: "msg-1"));
        var other = await buffer.AppendAsync(TestBuffers.Reading("s", 2, id: "msg-2"));

        Assert.Equal(AppendStatus.Stored, first.Status);
        Assert.Equal(AppendStatus.Duplicate, second.Status);
        Assert.Equal(2UL, other.Sequence);
        Assert.Equal(2, buffer.Read("s", 0, 10, long.MaxValue).Count);
    }

    [Fact]
    public async Task Append_SourceIdSeenBeforeRestart_IsStillDuplicateAfterReopen()
    {
        // The window lives in memory for the lookups and in the file for restarts.
        await using (var before = TestBuffers.Open(_dir.Path, Streams(("s", new StreamPolicy()))))
        {
            Assert.Equal(AppendStatus.Stored, (await before.AppendAsync(TestBuffers.Reading("s", 1, id: "msg-1"))).Status);
        }

        await using var after = TestBuffers.Open(_dir.Path, Streams(("s", new StreamPolicy())));
        Assert.Equal(AppendStatus.Duplicate, (await after.AppendAsync(TestBuffers.Reading("s", 1, id: "msg-1"))).Status);
        Assert.Equal(AppendStatus.Stored, (await after.AppendAsync(TestBuffers.Reading("s", 2, id: "msg-2"))).Status);
        Assert.Equal(2, after.Read("s", 0, 10, long.MaxValue).Count);
    }

    [Fact]
    public async Task Append_SourceIdOlderThanTheWindow_IsStoredAgain()
    {
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("s", new StreamPolicy())), o => o.DedupeWindow = 3);

        await buffer.AppendAsync(TestBuffers.Reading("s", 0, id: "old"));
        for (var i = 1; i <= 3; i++)
        {
            await buffer.AppendAsync(TestBuffers.Reading("s", i, id: $"msg-{i}"));
        }

        // "old" (sequence 1) left the 3-sequence window, which maintenance prunes; msg-3 (sequence 4) is inside it.
        await buffer.RunMaintenanceAsync();
        Assert.Equal(AppendStatus.Stored, (await buffer.AppendAsync(TestBuffers.Reading("s", 9, id: "old"))).Status);
        Assert.Equal(AppendStatus.Duplicate, (await buffer.AppendAsync(TestBuffers.Reading("s", 9, id: "msg-3"))).Status);
    }

    [Fact]
    public async Task UploadNone_KeepsNothingForUpload_ButFillsBoundedTrainingReservoir()
    {
        var federated = new StreamPolicy { Upload = UploadPolicy.None, TrainingReservoir = 10 };
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("f", federated)));

        for (var i = 0; i < 50; i++)
        {
            var outcome = await buffer.AppendAsync(TestBuffers.Reading("f", i, label: i % 3));
            Assert.Equal(AppendStatus.NotUploaded, outcome.Status);
        }

        await buffer.AppendAsync(TestBuffers.Reading("f", 99)); // unlabeled: never a training sample
        Assert.Empty(buffer.Read("f", 0, 100, long.MaxValue));
        var samples = buffer.ReadTrainingSamples("f");
        Assert.Equal(10, samples.Count);
        Assert.All(samples, s => Assert.InRange(s.Label, 0, 2));
    }

    [Fact]
    public async Task ReadTrainingSamples_MoreThanTheLimit_ReturnsASeededUniformSubsetOfThatSize()
    {
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("s", new StreamPolicy { TrainingReservoir = 200 })));
        for (var i = 0; i < 200; i++)
        {
            await buffer.AppendAsync(TestBuffers.Reading("s", i, label: i % 3));
        }

        static float[] Values(IReadOnlyList<TrainingSample> samples) =>
            [.. samples.Select(s => BinaryPrimitives.ReadSingleLittleEndian(s.Values)).Order()];
        var all = Values(buffer.ReadTrainingSamples("s"));
        var first = Values(buffer.ReadTrainingSamples("s", maxSamples: 50, seed: 1));
        var again = Values(buffer.ReadTrainingSamples("s", maxSamples: 50, seed: 1));
        var other = Values(buffer.ReadTrainingSamples("s", maxSamples: 50, seed: 2));

        Assert.Equal(200, all.Length);
        Assert.Equal(50, first.Length);
        Assert.Equal(50, first.Distinct().Count());
        Assert.Subset(all.ToHashSet(), first.ToHashSet());
        Assert.Equal(first, again);
        Assert.NotEqual(first, other);

        // Uniform, not the cursor's first 50: later readings are as likely as earlier ones.
        Assert.Contains(first, v => v >= 150);
        Assert.Equal(200, buffer.ReadTrainingSamples("s", maxSamples: 500).Count);
    }

    [Fact]
    public async Task UploadSampled_UploadsTheConfiguredFraction()
    {
        var sampled = new StreamPolicy { Upload = UploadPolicy.Sampled, SampleFraction = 0.25 };
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("s", sampled)));

        for (var i = 0; i < 100; i++)
        {
            await buffer.AppendAsync(TestBuffers.Reading("s", i));
        }

        Assert.Equal(25, buffer.Read("s", 0, 1000, long.MaxValue).Count);
    }

    [Fact]
    public async Task Maintenance_PastTimeToLive_ExpiresReadingsIntoTheLedger()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-28T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var policy = new StreamPolicy { TimeToLive = TimeSpan.FromMinutes(10) };
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("s", policy)), time: time);
        await buffer.AppendAsync(TestBuffers.Reading("s", 1));
        await buffer.AppendAsync(TestBuffers.Reading("s", 2));
        time.Advance(TimeSpan.FromMinutes(9));
        await buffer.AppendAsync(TestBuffers.Reading("s", 3));
        time.Advance(TimeSpan.FromMinutes(2));

        await buffer.RunMaintenanceAsync();

        var loss = Assert.Single(buffer.ReadLosses(0, 10));
        Assert.Equal("expired", loss.Reason);
        Assert.Equal([1UL, 2], loss.Sequences);
        Assert.Equal([3UL], buffer.Read("s", 0, 10, long.MaxValue).Select(r => r.Sequence));
    }

    [Fact]
    public async Task Drain_ThenMaintenance_GivesDiskSpaceBack()
    {
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("s", new StreamPolicy())), o => o.ReclaimThresholdBytes = 1024 * 1024, uplinks: ["hub"]);
        var tasks = Enumerable.Range(0, 4000).Select(i => buffer.AppendAsync(TestBuffers.Reading("s", i, size: 1024)).AsTask());
        await Task.WhenAll(tasks);
        await buffer.RunMaintenanceAsync();
        var full = buffer.GetStats().FileBytes;

        await buffer.AdvanceCheckpointAsync("hub", "s", 4000);
        await buffer.RunMaintenanceAsync();
        var drained = buffer.GetStats();

        output.WriteLine($"buffer file: {full} bytes with 4000 readings, {drained.FileBytes} bytes after draining");
        var directoryBytes = Directory.GetFiles(_dir.Path).Sum(f => new FileInfo(f).Length);

        Assert.Equal(0, drained.BufferedRecords);
        const long payloadBytes = 4000L * 1024 * 4;
        Assert.True(full >= payloadBytes, $"expected the file to hold the {payloadBytes} payload bytes before draining, got {full}");
        Assert.True(drained.FileBytes < full / 8, $"expected the file to shrink below {full / 8} bytes, got {drained.FileBytes}");
        Assert.True(directoryBytes < full / 8, $"expected no rebuild leftovers, the state directory holds {directoryBytes} bytes");
        Assert.Equal(4001UL, (await buffer.AppendAsync(TestBuffers.Reading("s", 1))).Sequence);
    }

    [Fact]
    public async Task Reclaim_WhileAnUplinkKeepsReading_CompletesAndReadsStayCorrect()
    {
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("s", new StreamPolicy())), o => o.ReclaimThresholdBytes = 1024 * 1024, uplinks: ["hub"]);
        await Task.WhenAll(Enumerable.Range(0, 3000).Select(i => buffer.AppendAsync(TestBuffers.Reading("s", i, size: 1024)).AsTask()));
        using var stopReading = new CancellationTokenSource();
        var reads = 0;
        var reader = Task.Run(() =>
        {
            // An uplink polls the buffer all the time; the rebuild must not deadlock with it.
            while (!stopReading.IsCancellationRequested)
            {
                var batch = buffer.Read("s", buffer.GetCheckpoint("hub", "s"), 100, long.MaxValue);
                Assert.All(batch, r => Assert.Equal(r.Sequence - 1, (ulong)TestBuffers.FirstValue(r)));
                Interlocked.Increment(ref reads);
            }
        });

        await buffer.AdvanceCheckpointAsync("hub", "s", 2990);
        await buffer.RunMaintenanceAsync().AsTask().WaitAsync(Patience);
        await stopReading.CancelAsync();
        await reader.WaitAsync(Patience);

        Assert.True(reads > 0);
        Assert.Equal([2991UL, 2992, 2993, 2994, 2995, 2996, 2997, 2998, 2999, 3000], buffer.Read("s", 0, 100, long.MaxValue).Select(r => r.Sequence));
        Assert.True(buffer.GetStats().FileBytes < 4 * 1024 * 1024, $"file should have been rebuilt, is {buffer.GetStats().FileBytes} bytes");
    }

    [Fact]
    public async Task DeadLetter_IsKeptWithReason_AndCapped()
    {
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("s", new StreamPolicy())), o => o.DeadLetterCapacity = 3);
        for (var i = 0; i < 5; i++)
        {
            await buffer.DeadLetterAsync(new DeadLetter($"fractal/sensors/x{i}", $"reason {i}", new byte[10_000]));
        }

        await buffer.RunMaintenanceAsync();

        var kept = buffer.ReadDeadLetters(10);
        Assert.Equal(["reason 2", "reason 3", "reason 4"], kept.Select(k => k.Reason));
    }

    [Fact]
    public async Task Checkpoint_PartWayThroughAGroup_KeepsTheRestReadableAcrossReopen()
    {
        // 500 concurrent appends share group commits, so checkpoints at 137 and 333 fall inside segments.
        var path = _dir.Path;
        await using (var buffer = TestBuffers.Open(path, Streams(("s", new StreamPolicy())), uplinks: ["hub"]))
        {
            await Task.WhenAll(Enumerable.Range(0, 500).Select(i => buffer.AppendAsync(TestBuffers.Reading("s", i)).AsTask()));
            await buffer.AdvanceCheckpointAsync("hub", "s", 137);
            Assert.Equal(363, buffer.GetStats().BufferedRecords);
            Assert.Equal(Enumerable.Range(138, 363).Select(i => (ulong)i), buffer.Read("s", 137, 1000, long.MaxValue).Select(r => r.Sequence));
            await buffer.AdvanceCheckpointAsync("hub", "s", 333);
        }

        await using var reopened = TestBuffers.Open(path, Streams(("s", new StreamPolicy())), uplinks: ["hub"]);
        var rest = reopened.Read("s", 0, 1000, long.MaxValue);
        Assert.Equal(Enumerable.Range(334, 167).Select(i => (ulong)i), rest.Select(r => r.Sequence));
        Assert.All(rest, r => Assert.Equal(r.Sequence - 1, (ulong)TestBuffers.FirstValue(r)));
        Assert.Equal(167, reopened.GetStats().BufferedRecords);
        Assert.Equal(rest.Sum(r => r.QuotaBytes), reopened.GetStats().BufferedBytes);
    }

    [Fact]
    public async Task QuotaFull_EvictingWithinOneGroup_LedgerAndBufferTogetherHoldEverySequenceOnce()
    {
        // The quota holds about ten readings; 300 concurrent appends evict readings of their own
        // group before it is written, as well as readings already on disk.
        var evict = new StreamPolicy { WhenFull = FullQuotaPolicy.EvictOldest };
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("s", evict)), o => o.QuotaBytes = 10 * (4000 + 64 + 4));
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => buffer.AppendAsync(TestBuffers.Reading("s", i, size: 1000)).AsTask()));

        var kept = buffer.Read("s", 0, 1000, long.MaxValue).Select(r => r.Sequence).ToList();
        var lost = buffer.ReadLosses(0, 1000).SelectMany(l => l.Sequences).ToList();
        Assert.All(outcomes, o => Assert.Equal(AppendStatus.Stored, o.Status));
        Assert.Equal(Enumerable.Range(1, 300).Select(i => (ulong)i), lost.Concat(kept).Order());
        Assert.Equal(lost.Order(), lost);
        Assert.True(kept.Count is > 0 and <= 10, $"expected at most ten readings kept, got {kept.Count}");
        Assert.Equal(300UL, kept[^1]);
        Assert.Equal(kept.Count, buffer.GetStats().BufferedRecords);
    }

    [Fact]
    public async Task Open_OnAFileOfOneDocumentPerReading_MigratesTheBacklogToSegments()
    {
        // The layout of builds before segments: streams/{_id,c,next,seen,acc} and r{c}/{_id,t,sh,v,l,n}.
        var file = Path.Combine(_dir.Path, "buffer.db");
        Directory.CreateDirectory(_dir.Path);
        using (var db = new LiteDB.LiteDatabase(new LiteDB.ConnectionString { Filename = file, Connection = LiteDB.ConnectionType.Direct }))
        {
            db.GetCollection("streams").Insert(new LiteDB.BsonDocument { ["_id"] = "s", ["c"] = 0, ["next"] = 41L, ["seen"] = 0L, ["acc"] = 0.0 });
            var records = db.GetCollection("r0");
            for (var q = 11; q <= 40; q++)
            {
                var reading = TestBuffers.Reading("s", q, label: q % 2 == 0 ? q : null);
                records.Insert(new LiteDB.BsonDocument
                {
                    ["_id"] = (long)q,
                    ["t"] = 1_700_000_000_000L + q,
                    ["sh"] = new LiteDB.BsonArray(reading.Shape.Select(d => new LiteDB.BsonValue(d))),
                    ["v"] = reading.Values,
                    ["l"] = reading.Label is { } l ? new LiteDB.BsonValue(l) : LiteDB.BsonValue.Null,
                    ["n"] = (long)(reading.Values.Length + 64 + 4),
                });
            }
        }

        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("s", new StreamPolicy())));
        var migrated = buffer.Read("s", 0, 100, long.MaxValue);

        Assert.Equal(Enumerable.Range(11, 30).Select(i => (ulong)i), migrated.Select(r => r.Sequence));
        Assert.All(migrated, r => Assert.Equal(r.Sequence, (ulong)TestBuffers.FirstValue(r)));
        Assert.All(migrated, r => Assert.Equal(r.Sequence % 2 == 0 ? (int)r.Sequence : null, r.Label));
        Assert.Equal(1_700_000_000_011L, migrated[0].TimestampUnixMs);
        Assert.Equal(30, buffer.GetStats().BufferedRecords);
        Assert.Equal(41UL, (await buffer.AppendAsync(TestBuffers.Reading("s", 41))).Sequence);
    }

    [Fact]
    public async Task SustainedAppends_KeepLiteDbsLogShort_SoItsPageCacheStaysSmall()
    {
        // 12 MB of readings in groups: with LiteDB's default the log grows to 1000 pages (8 MB)
        // before it is folded into the data file, and its page cache to 13.6 MB with it.
        await using var buffer = TestBuffers.Open(_dir.Path, Streams(("s", new StreamPolicy())));
        var logFile = Path.Combine(_dir.Path, "buffer-log.db");
        long largestLog = 0;
        for (var batch = 0; batch < 30; batch++)
        {
            await Task.WhenAll(Enumerable.Range(0, 100).Select(i => buffer.AppendAsync(TestBuffers.Reading("s", i, size: 1000)).AsTask()));
            largestLog = Math.Max(largestLog, File.Exists(logFile) ? new FileInfo(logFile).Length : 0);
        }

        output.WriteLine($"largest log file seen: {largestLog} bytes");
        Assert.Equal(3000, buffer.GetStats().BufferedRecords);
        Assert.True(largestLog > 0, "the log file was never seen: the test does not look at the right file");
        Assert.True(largestLog < 2L * DurableBuffer.CheckpointPages * 8192, $"the log grew to {largestLog} bytes; it should be folded in every {DurableBuffer.CheckpointPages} pages");
    }
}

