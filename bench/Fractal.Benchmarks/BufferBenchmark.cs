using System.Diagnostics;
using Fractal.Agent.Sync.Buffer;
using Fractal.Agent.Sync.Identity;
using Fractal.Agent.Sync.Metrics;
using LiteDB;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Fractal.Benchmarks;

/// <summary>
/// Durable, group-committed appends (<see cref="DurableBuffer.AppendAsync"/> from many concurrent
/// producers, fsync per group) against the storage limit: raw LiteDB <c>InsertBulk</c> of the same
/// documents in one transaction, on the same disk, in the same run.
/// </summary>
internal static class BufferBenchmark
{
    public static Task RunAsync(BenchArgs args)
    {
        var records = args.Int("records", 50_000);
        var values = args.Int("values", 16);
        var rounds = args.Int("rounds", 3);
        var producers = args.Ints("producers", "64,1000");
        var root = args.String("dir", Path.Combine(Path.GetTempPath(), "fractal-bench"));
        var plain = Enumerable.Range(0, records).Select(i => Readings.Request(i, values, null)).ToArray();
        var withIds = Enumerable.Range(0, records).Select(i => Readings.Request(i, values, "sensor-1/")).ToArray();
        var most = producers.Max();

        var variants = new List<(string Name, Func<string, Measurement> Run)>
        {
            ("raw LiteDB InsertBulk, 1 transaction + 1 fsync (baseline)", dir => RawInsertBulk(dir, plain)),
        };
        variants.Add(("raw LiteDB InsertBulk, transactions of 2000 (MaxGroupCommit) + fsync each (reference)", dir => RawInsertBulk(dir, plain, chunk: 2000)));
        foreach (var p in producers)
        {
            variants.Add(($"DurableBuffer, {p} producers, fsync per group (default)", dir => Durable(dir, plain, p, flush: true)));
        }

        variants.Add(($"DurableBuffer, {most} producers, fsync off (reference)", dir => Durable(dir, plain, most, flush: false)));
        variants.Add(($"DurableBuffer, {most} producers, fsync, with sensor ids (dedupe index)", dir => Durable(dir, withIds, most, flush: true)));
        variants.Add(("diagnostic: raw InsertBulk of records + their sensor-id documents, 1 transaction", dir => RawWithIds(dir, withIds, lookUpEach: false)));
        variants.Add(("diagnostic: raw per reading FindById(id) + Insert(record) + Insert(id), 1 transaction", dir => RawWithIds(dir, withIds, lookUpEach: true)));

        Report.Line($"{records:N0} readings of {values} float32 values ({plain[0].Values.Length} B payload) per measurement; {rounds} rounds, variants interleaved; temp dir `{root}`.");
        Report.Line(string.Empty);
        // Warm-up: every variant once on a small set, so JIT and first-use costs are not measured.
        var warmUp = new List<(string Name, Func<string, Measurement> Run)>
        {
            ("raw", dir => RawInsertBulk(dir, plain[..2000])),
            ("durable", dir => Durable(dir, plain[..2000], most, flush: true)),
            ("durable ids", dir => Durable(dir, withIds[..2000], most, flush: true)),
        };
        foreach (var (_, run) in warmUp)
        {
            var dir = Path.Combine(root, $"buffer-{Guid.NewGuid():N}");
            Directory.CreateDirectory(dir);
            run(dir);
            Directory.Delete(dir, recursive: true);
        }

        var results = variants.Select(_ => new List<Measurement>()).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            for (var k = 0; k < variants.Count; k++)
            {
                // Rotate the order each round so no variant always runs first (cold cache) or last.
                var v = (k + round) % variants.Count;
                var dir = Path.Combine(root, $"buffer-{Guid.NewGuid():N}");
                Directory.CreateDirectory(dir);
                try
                {
                    var m = variants[v].Run(dir);
                    results[v].Add(m);
                    Report.Progress($"buffer round {round + 1}: {variants[v].Name}: {m.Rate:N0}/s, {m.Note}");
                }
                finally
                {
                    Directory.Delete(dir, recursive: true);
                }
            }
        }

        var baseline = results[0];
        var rows = new List<IReadOnlyList<string>>();
        for (var v = 0; v < variants.Count; v++)
        {
            var rates = results[v].Select(m => m.Rate).ToList();
            var ratios = results[v].Select((m, round) => m.Rate / baseline[round].Rate).ToList();
            rows.Add([
                variants[v].Name,
                Report.Rate(Report.Median(rates)),
                $"{Report.Rate(rates.Min())} - {Report.Rate(rates.Max())}",
                v == 0 ? "1.00" : Report.Ratio(Report.Median(ratios)),
                results[v][^1].Note,
            ]);
        }

        Report.Table(["variant", "readings/s (median)", "range", "ratio to raw (median of per-round ratios)", "notes (last round)"], rows);
        return Task.CompletedTask;
    }

    private static Measurement RawInsertBulk(string dir, AppendRequest[] requests, int chunk = int.MaxValue)
    {
        var file = Path.Combine(dir, "raw.db");
        using var db = new LiteDatabase(new ConnectionString { Filename = file, Connection = ConnectionType.Direct });
        var collection = db.GetCollection("r0");
        var clock = Stopwatch.StartNew();
        // The very documents DurableBuffer writes for a reading (see DurableBuffer.TryAppend).
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var docs = new List<BsonDocument>(requests.Length);
        for (var i = 0; i < requests.Length; i++)
        {
            var request = requests[i];
            docs.Add(new BsonDocument
            {
                ["_id"] = (long)(i + 1),
                ["t"] = now,
                ["sh"] = new BsonArray(request.Shape.Select(d => new BsonValue(d))),
                ["v"] = request.Values,
                ["l"] = request.Label is { } label ? new BsonValue(label) : BsonValue.Null,
                ["n"] = request.Values.Length + 64 + (request.Shape.Length * 4),
            });
        }

        var commits = 0;
        for (var start = 0; start < docs.Count; start += chunk)
        {
            db.BeginTrans();
            collection.InsertBulk(docs.Skip(start).Take(chunk));
            db.Commit();
            Fsync(file);
            Fsync(Path.Combine(dir, "raw-log.db"));
            commits++;
        }

        clock.Stop();
        return new Measurement(requests.Length / clock.Elapsed.TotalSeconds, commits == 1 ? "1 commit" : $"{commits} commits");
    }

    /// <summary>
    /// What the dedupe costs LiteDB by itself: the records plus the id documents DurableBuffer
    /// keeps (<c>{_id: sourceId, q: sequence}</c>, index on q), in bulk or one by one with the
    /// lookup DurableBuffer.TryAppend makes before each append.
    /// </summary>
    private static Measurement RawWithIds(string dir, AppendRequest[] requests, bool lookUpEach)
    {
        var file = Path.Combine(dir, "raw.db");
        using var db = new LiteDatabase(new ConnectionString { Filename = file, Connection = ConnectionType.Direct });
        var records = db.GetCollection("r0");
        var ids = db.GetCollection("i0");
        ids.EnsureIndex("q");
        var clock = Stopwatch.StartNew();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var docs = new List<BsonDocument>(requests.Length);
        var idDocs = new List<BsonDocument>(requests.Length);
        db.BeginTrans();
        for (var i = 0; i < requests.Length; i++)
        {
            var request = requests[i];
            var doc = new BsonDocument
            {
                ["_id"] = (long)(i + 1),
                ["t"] = now,
                ["sh"] = new BsonArray(request.Shape.Select(d => new BsonValue(d))),
                ["v"] = request.Values,
                ["l"] = request.Label is { } label ? new BsonValue(label) : BsonValue.Null,
                ["n"] = request.Values.Length + 64 + (request.Shape.Length * 4),
            };
            var idDoc = new BsonDocument { ["_id"] = request.SourceId, ["q"] = (long)(i + 1) };
            if (lookUpEach)
            {
                if (ids.FindById(request.SourceId) is not null)
                {
                    throw new InvalidOperationException("duplicate id");
                }

                records.Insert(doc);
                ids.Insert(idDoc);
            }
            else
            {
                docs.Add(doc);
                idDocs.Add(idDoc);
            }
        }

        if (!lookUpEach)
        {
            records.InsertBulk(docs);
            ids.InsertBulk(idDocs);
        }

        db.Commit();
        Fsync(file);
        Fsync(Path.Combine(dir, "raw-log.db"));
        clock.Stop();
        return new Measurement(requests.Length / clock.Elapsed.TotalSeconds, "1 commit");
    }

    private static Measurement Durable(string dir, AppendRequest[] requests, int producers, bool flush)
    {
        var metrics = new SyncMetrics();
        var options = new BufferOptions { QuotaBytes = 4L << 30, FlushToDevice = flush };
        var identity = new NodeIdentity(Options.Create(new AgentOptions { StateDirectory = dir, NodeId = "bench" }));
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        var buffer = new DurableBuffer(Options.Create(options), Readings.Catalog, identity, TimeProvider.System, metrics, NullLogger<DurableBuffer>.Instance);
        buffer.Open();
        try
        {
            var next = -1;
            var clock = Stopwatch.StartNew();
            var tasks = new Task[producers];
            for (var p = 0; p < producers; p++)
            {
                tasks[p] = Task.Run(async () =>
                {
                    int i;
                    while ((i = Interlocked.Increment(ref next)) < requests.Length)
                    {
                        var outcome = await buffer.AppendAsync(requests[i]);
                        if (outcome.Status != AppendStatus.Stored)
                        {
                            throw new InvalidOperationException($"Reading {i} was {outcome.Status}.");
                        }
                    }
                });
            }

            Task.WaitAll(tasks);
            clock.Stop();
            var commits = metrics.GroupCommits.Value;
            // What the open buffer keeps alive (LiteDB's page cache is managed memory).
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            var held = (GC.GetTotalMemory(forceFullCollection: true) - heapBefore) / (1024.0 * 1024.0);
            var file = buffer.GetStats().FileBytes / (1024.0 * 1024.0);
            return new Measurement(requests.Length / clock.Elapsed.TotalSeconds, $"{commits:N0} group commits, {requests.Length / commits:N0} per commit; open buffer holds {held:N1} MB of managed heap (files {file:N1} MB)");
        }
        finally
        {
            buffer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static void Fsync(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        stream.Flush(flushToDisk: true);
    }

    private readonly record struct Measurement(double Rate, string Note);
}
