using System.Diagnostics;
using System.Globalization;
using Amazon.S3.Model;
using Fractal.Agent.Sync.Buffer;
using Fractal.Agent.Sync.Identity;
using Fractal.Agent.Sync.Metrics;
using Fractal.Agent.Sync.Uplinks;
using Fractal.Agent.Sync.Uplinks.Hub;
using Fractal.Agent.Sync.Uplinks.Kafka;
using Fractal.Agent.Sync.Uplinks.S3;
using Fractal.Benchmarks.Drain;
using Fractal.CloudHub;
using Fractal.CloudHub.Hosting;
using Fractal.Testing.Kafka;
using Fractal.Testing.Swift;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Fractal.Benchmarks;

/// <summary>
/// Drain rate, buffer → each uplink (UplinkWorker with the real transport, real server on
/// loopback), against a transport that acknowledges at once (the buffer's own drain limit), and
/// bytes on the wire per reading against the reading's raw JSON size.
/// </summary>
internal static class DrainBenchmark
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(10);

    public static async Task RunAsync(BenchArgs args)
    {
        var records = args.Int("records", 50_000);
        var values = args.Int("values", 16);
        var rounds = args.Int("rounds", 3);
        var batch = args.Int("batch", 500);
        var only = args.Strings("uplinks", "null,hub,kafka-lz4,kafka-zstd,s3-gzip");
        var root = args.String("dir", Path.Combine(Path.GetTempPath(), "fractal-bench"));
        var requests = Enumerable.Range(0, records).Select(i => Readings.Request(i, values, null)).ToArray();
        var rawJson = Enumerable.Range(0, records).Average(i => Readings.Json(i, values, null).Length);

        Report.Progress("drain: starting the hub (Kestrel), the Kafka mock cluster and Swift S3");
        var lake = Path.Combine(root, $"lake-{Guid.NewGuid():N}");
        await using var hub = FractalHubApplication.Build(["--Hub:GrpcUrl=http://127.0.0.1:0", "--Hub:HttpUrl=http://127.0.0.1:0", $"--DataLake:Root={lake}", "--Logging:LogLevel:Default=Warning",
            // Each agent-side transport disposal resets its upload stream; the hub logs that as an error (see docs/benchmarks.md).
            "--Logging:LogLevel:Grpc.AspNetCore.Server.ServerCallHandler=Critical"]);
        await hub.StartAsync();
        var hubAddress = hub.Services.GetRequiredService<HubEndpoints>().GrpcAddress;
        using var kafka = new KafkaMockCluster(brokerCount: 1);
        kafka.CreateTopic("fractal.records");
        kafka.CreateTopic("fractal.losses");
        var kafkaPort = int.Parse(kafka.BootstrapServers.Split(',')[0].Split(':')[^1], CultureInfo.InvariantCulture);
        await using var swift = only.Contains("s3-gzip") ? await SwiftS3Server.StartNewAsync() : null;

        var targets = new List<Target>
        {
            new("null", "none (acks at once): the buffer's drain limit, baseline", () => (new NullTransport(), null, null)),
            new("hub", "gRPC bidi stream to the hub on Kestrel (lake: Parquet, fsync); no gRPC compression", () =>
                (new HubUplinkTransport(Options.Create(new HubUplinkOptions { Address = hubAddress.ToString() })), hubAddress.Port, null)),
            new("kafka-lz4", "Kafka idempotent producer, acks=all, lz4 (default), librdkafka mock cluster", () =>
                (new KafkaUplinkTransport(Options.Create(new KafkaUplinkOptions { BootstrapServers = kafka.BootstrapServers }), NullLogger<KafkaUplinkTransport>.Instance), kafkaPort, null)),
            new("kafka-zstd", "same, zstd", () =>
                (new KafkaUplinkTransport(Options.Create(new KafkaUplinkOptions { BootstrapServers = kafka.BootstrapServers, Compression = KafkaUplinkCompression.Zstd }), NullLogger<KafkaUplinkTransport>.Instance), kafkaPort, null)),
            new("s3-gzip", "S3 PUT per batch, gzip (default), OpenStack Swift s3api", () =>
            {
                var bucket = $"bench-{Guid.NewGuid():N}"[..20];
                var options = new S3UplinkOptions { ServiceUrl = swift!.Endpoint.ToString(), Bucket = bucket, AccessKey = swift.AccessKey, SecretKey = swift.SecretKey, Region = SwiftS3Server.Region };
                return (new S3UplinkTransport(Options.Create(options), NullLogger<S3UplinkTransport>.Instance), swift.Port, () => ObjectBytesAsync(swift, bucket));
            }),
        };
        targets = targets.Where(t => only.Contains(t.Name)).ToList();

        Report.Line($"{records:N0} readings of {values} values per measurement (raw JSON {rawJson:N1} B/reading on average, no sensor id); batches of up to {batch} readings; " +
            $"buffer on disk with fsync; {rounds} rounds, uplinks interleaved. Wire bytes: TCP payload of the agent's connections to the server port (kernel counters, `ss -ti`), protocol framing and headers included.");
        Report.Line(string.Empty);

        // Warm-up: one small drain per uplink, so connections, JIT and bucket/topic creation are not measured.
        foreach (var target in targets)
        {
            await DrainOnceAsync(target, requests[..2000], batch, root);
        }

        var results = targets.Select(_ => new List<Result>()).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            for (var k = 0; k < targets.Count; k++)
            {
                var t = (k + round) % targets.Count;
                var r = await DrainOnceAsync(targets[t], requests, batch, root);
                results[t].Add(r);
                Report.Progress($"drain round {round + 1}, {targets[t].Name}: {r.Rate:N0}/s, up {r.Sent / (double)records:N1} B/reading, {r.Batches} batches");
            }
        }

        var baseline = results[0];
        var rows = new List<IReadOnlyList<string>>();
        for (var t = 0; t < targets.Count; t++)
        {
            var last = results[t][^1];
            var ratios = results[t].Select((r, i) => r.Rate / baseline[i].Rate).ToList();
            var up = last.Sent / (double)records;
            rows.Add([
                $"{targets[t].Name}: {targets[t].Description}",
                Report.Rate(Report.Median(results[t].Select(r => r.Rate))),
                targets[t].Name == "null" ? "1.00" : Report.Ratio(Report.Median(ratios)),
                Report.Number(last.Protobuf / (double)records, "N1"),
                last.Sent == 0 ? "-" : Report.Number(up, "N1"),
                last.Sent == 0 ? "-" : Report.Ratio(up / rawJson),
                last.Received == 0 ? "-" : Report.Number(last.Received / (double)records, "N1"),
                last.Objects is { } objects ? Report.Number(objects / (double)records, "N1") : "-",
            ]);
        }

        Report.Table(["uplink", "readings/s (median)", "ratio to buffer drain limit", "protobuf B/reading (before compression)", "wire B/reading up", "wire up / raw JSON", "wire B/reading down (acks)", "S3 object B/reading"], rows);
    }

    private static async Task<Result> DrainOnceAsync(Target target, AppendRequest[] requests, int batch, string root)
    {
        var dir = Path.Combine(root, $"drain-{Guid.NewGuid():N}");
        var metrics = new SyncMetrics();
        // A node id per measurement: the hub drops (node, stream, sequence) it has already stored.
        var identity = new NodeIdentity(Options.Create(new AgentOptions { StateDirectory = dir, NodeId = $"bench-{Guid.NewGuid():N}"[..18] }));
        var buffer = new DurableBuffer(Options.Create(new BufferOptions { QuotaBytes = 4L << 30 }), Readings.Catalog, identity, TimeProvider.System, metrics, NullLogger<DurableBuffer>.Instance);
        var (transport, port, objectBytes) = target.Create();
        var metered = new MeteredTransport(transport, (ulong)requests.Length);
        var worker = new UplinkWorker(metered, buffer, identity, new UplinkDeliveryOptions { BatchMaxRecords = batch, BatchMaxBytes = 64 * 1024 * 1024 }, metrics, TimeProvider.System, NullLogger.Instance);
        buffer.Open();
        try
        {
            await FillAsync(buffer, requests);
            var bytes = port is { } p ? new SocketBytes(p) : null;
            using var stop = new CancellationTokenSource();
            var clock = Stopwatch.StartNew();
            var run = worker.RunAsync(stop.Token);
            await metered.Drained.WaitAsync(Patience);
            clock.Stop();
            await stop.CancelAsync();
            await run;
            long sent = 0, received = 0;
            if (bytes is not null)
            {
                await bytes.DisposeAsync();
                sent = bytes.Sent;
                received = bytes.Received;
            }

            var objects = objectBytes is null ? (long?)null : await objectBytes();
            return new Result(requests.Length / clock.Elapsed.TotalSeconds, metered.Batches, metered.ProtobufBytes, sent, received, objects);
        }
        finally
        {
            switch (transport)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync();
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }

            await buffer.DisposeAsync();
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task FillAsync(DurableBuffer buffer, AppendRequest[] requests)
    {
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, 1000).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < requests.Length)
            {
                await buffer.AppendAsync(requests[i]);
            }
        })));
    }

    private static async Task<long> ObjectBytesAsync(SwiftS3Server swift, string bucket)
    {
        using var client = swift.CreateClient();
        long total = 0;
        var request = new ListObjectsV2Request { BucketName = bucket };
        ListObjectsV2Response response;
        do
        {
            response = await client.ListObjectsV2Async(request);
            total += response.S3Objects?.Sum(o => o.Size ?? 0) ?? 0;
            request.ContinuationToken = response.NextContinuationToken;
        }
        while (response.IsTruncated == true);
        return total;
    }

    private sealed record Target(string Name, string Description, Func<(IUplinkTransport Transport, int? Port, Func<Task<long>>? ObjectBytes)> Create);

    private readonly record struct Result(double Rate, long Batches, long Protobuf, long Sent, long Received, long? Objects);
}
