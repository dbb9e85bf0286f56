using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Amazon.S3.Model;
using Confluent.Kafka;
using Fractal.Agent.Sync.Uplinks.S3;
using Fractal.Contracts.Ingest;
using Fractal.Testing;
using Fractal.Testing.Kafka;
using Fractal.Testing.Processes;
using Fractal.Testing.Swift;

namespace Fractal.Packaging.Tests;

public sealed partial class LifecycleTests
{
    private const int UplinkReadings = 120;
    private static readonly TimeSpan DeliveryTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The installed (Native AOT) build with every uplink on: the hub's gRPC ingest (a real hub
    /// process), Kafka (librdkafka's mock cluster) and S3 (OpenStack Swift). Each far side receives
    /// every reading exactly once. This is the step that runs the AOT build's gRPC, protobuf,
    /// librdkafka and AWS SDK code, which the compiler could not fully analyse.
    /// </summary>
    [Fact]
    [Step(4)]
    public async Task InstalledAgent_AllUplinksOn_DeliversEveryReadingToHubKafkaAndS3()
    {
        packages.EnsureReady();
        using var dir = new TestDirectory("uplinks");

        // Its own state directory: the buffer and identity in /var/lib/fractal belong to the upgrade step.
        var state = dir.Combine("state");
        Directory.CreateDirectory(state);
        (await Command.RunAsync("chown", "fractal:fractal", state)).EnsureSuccess();

        var hubGrpc = FreePort.Next();
        var hubHttp = FreePort.Next();
        await using var hub = ChildProcess.StartDotnet(RepositoryPaths.Program("Fractal.CloudHub", "fractal-hub"),
        [
            $"--Hub:GrpcUrl=http://127.0.0.1:{hubGrpc}",
            $"--Hub:HttpUrl=http://127.0.0.1:{hubHttp}",
            $"--DataLake:Root={dir.Combine("lake")}",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await hub.WaitForLineAsync("Hub listening on", TimeSpan.FromSeconds(60));

        using var kafka = new KafkaMockCluster(brokerCount: 1);
        kafka.CreateTopic("fractal.records");
        kafka.CreateTopic("fractal.losses");
        await using var swift = await SwiftS3Server.StartNewAsync(dir.Combine("swift"));
        var bucket = Unique.Name("pkg").ToLowerInvariant();

        var settings = new Dictionary<string, string>
        {
            ["Agent:StateDirectory"] = state,
            ["Uplinks:Hub:Enabled"] = "true",
            ["Uplinks:Hub:Address"] = $"http://127.0.0.1:{hubGrpc}",
            ["Uplinks:Kafka:Enabled"] = "true",
            ["Uplinks:Kafka:BootstrapServers"] = kafka.BootstrapServers,
            ["Uplinks:S3:Enabled"] = "true",
            ["Uplinks:S3:ServiceUrl"] = swift.Endpoint.ToString(),
            ["Uplinks:S3:Bucket"] = bucket,
            ["Uplinks:S3:AccessKey"] = swift.AccessKey,
            ["Uplinks:S3:SecretKey"] = swift.SecretKey,
        };
        using var notifyDir = new TestDirectory("notify");
        await using var notify = new NotifySocket(notifyDir.Combine("notify.sock"));
        await using var agent = InstalledAgent.Start(notify.Path, Watchdog, FreePort.Next(), FreePort.Next(), settings);
        await notify.WaitForAsync("READY=1", ReadyTimeout);
        await PublishReadingAsync(agent.MqttPort, "uplinked", UplinkReadings);

        var expected = Enumerable.Range(1, UplinkReadings).Select(i => (ulong)i).ToList();
        try
        {
            Assert.Equal(expected, await HubSequencesAsync(hubHttp, "uplinked"));
            Assert.Equal(expected, await KafkaSequencesAsync(kafka.BootstrapServers, "uplinked"));
            Assert.Equal(expected, await S3SequencesAsync(swift, bucket, "uplinked"));
        }
        catch (Exception ex) when (ex is Xunit.Sdk.XunitException or TimeoutException)
        {
            throw new Xunit.Sdk.XunitException($"{ex.Message}\nagent's metrics:\n{await agent.MetricsTextAsync()}\nagent's log:\n{agent.StandardOutput}{agent.StandardError}");
        }

        Assert.Equal(0, await agent.TerminateAsync(TimeSpan.FromSeconds(30)));
    }

    /// <summary>The lake's record count for the stream, once it holds every reading (sequences 1..count, no duplicates).</summary>
    private static async Task<List<ulong>> HubSequencesAsync(int httpPort, string stream)
    {
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
        var deadline = DateTime.UtcNow + DeliveryTimeout;
        long records = 0, highWaterMark = 0;
        while (DateTime.UtcNow < deadline)
        {
            using var summary = JsonDocument.Parse(await http.GetStringAsync(new Uri("/api/lake/summary", UriKind.Relative)));
            var partition = summary.RootElement.GetProperty("partitions").EnumerateArray()
                .FirstOrDefault(p => p.GetProperty("stream").GetString() == stream);
            if (partition.ValueKind == JsonValueKind.Object)
            {
                records = partition.GetProperty("records").GetInt64();
                highWaterMark = partition.GetProperty("highWaterMark").GetInt64();
                if (records >= UplinkReadings)
                {
                    break;
                }
            }

            await Task.Delay(200);
        }

        // The lake drops duplicates by sequence, so records equal to the high-water mark means 1..N once each.
        Assert.Equal(highWaterMark, records);
        return Enumerable.Range(1, (int)records).Select(i => (ulong)i).ToList();
    }

    private static async Task<List<ulong>> KafkaSequencesAsync(string bootstrapServers, string stream)
    {
        return await Task.Run(() =>
        {
            using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
            {
                BootstrapServers = bootstrapServers,
                GroupId = "pkgtest-reader",
                EnableAutoCommit = false,
            }).Build();
            consumer.Assign(new TopicPartitionOffset("fractal.records", 0, Offset.Beginning));
            var sequences = new List<ulong>();
            var deadline = DateTime.UtcNow + DeliveryTimeout;
            while (sequences.Count < UplinkReadings && DateTime.UtcNow < deadline)
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } result)
                {
                    var record = SensorRecord.Parser.ParseFrom(result.Message.Value);
                    Assert.EndsWith("/" + stream, result.Message.Key, StringComparison.Ordinal);
                    Assert.Equal(record.Sequence.ToString(CultureInfo.InvariantCulture), Encoding.ASCII.GetString(result.Message.Headers.GetLastBytes("fractal-seq")));
                    sequences.Add(record.Sequence);
                }
            }

            // Anything past the expected count would be a duplicate.
            Assert.Null(consumer.Consume(TimeSpan.FromSeconds(1)));
            sequences.Sort();
            return sequences;
        });
    }

    private static async Task<List<ulong>> S3SequencesAsync(SwiftS3Server swift, string bucket, string stream)
    {
        using var client = swift.CreateClient();
        var deadline = DateTime.UtcNow + DeliveryTimeout;
        var sequences = new List<ulong>();
        while (DateTime.UtcNow < deadline)
        {
            sequences.Clear();
            try
            {
                var listing = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = $"fractal/records/stream={stream}/" });
                foreach (var entry in listing.S3Objects ?? [])
                {
                    using var response = await client.GetObjectAsync(bucket, entry.Key);
                    using var content = new MemoryStream();
                    await response.ResponseStream.CopyToAsync(content);
                    sequences.AddRange(S3BatchObject.Decode(content.ToArray()).Records.Select(r => r.Sequence));
                }
            }
            catch (Amazon.S3.AmazonS3Exception ex) when (ex.ErrorCode == "NoSuchBucket")
            {
                // The agent creates the bucket with its first batch.
            }

            if (sequences.Count >= UplinkReadings)
            {
                break;
            }

            await Task.Delay(200);
        }

        sequences.Sort();
        return sequences;
    }
}
