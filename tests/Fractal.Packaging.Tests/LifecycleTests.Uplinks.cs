using System.Globalization;
using System.Text;
using Amazon.S3.Model;
using Confluent.Kafka;
using Fractal.Agent.Sync.Uplinks.S3;
using Fractal.CloudHub.DataLake;
using Fractal.Contracts.Ingest;
using Fractal.Testing;
using Fractal.Testing.Kafka;
using Fractal.Testing.Processes;
using Fractal.Testing.Swift;
using Microsoft.Extensions.Logging.Abstractions;

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

        // An uplink counts a reading as sent only when its far side has acknowledged it (the hub
        // after the lake write, Kafka after acks=all, S3 after the PUT): then read each side once.
        var expected = Enumerable.Range(1, UplinkReadings).Select(i => (ulong)i).ToList();
        try
        {
            foreach (var uplink in new[] { "hub", "kafka", "s3" })
            {
                Assert.Equal(UplinkReadings, await agent.WaitForMetricAsync($"fractal_uplink_sent_total{{uplink=\"{uplink}\"}}", UplinkReadings, DeliveryTimeout));
            }

            Assert.Equal(expected, await LakeSequencesAsync(dir.Combine("lake"), "uplinked"));
            Assert.Equal(expected, await KafkaSequencesAsync(kafka.BootstrapServers, "uplinked"));
            Assert.Equal(expected, await S3SequencesAsync(swift, bucket, "uplinked"));
        }
        catch (Exception ex) when (ex is Xunit.Sdk.XunitException or TimeoutException)
        {
            throw new Xunit.Sdk.XunitException($"{ex.Message}\nagent's metrics:\n{await agent.MetricsTextAsync()}\nagent's log:\n{agent.StandardOutput}{agent.StandardError}");
        }

        Assert.Equal(0, await agent.TerminateAsync(TimeSpan.FromSeconds(30)));
    }

    /// <summary>The stream's sequences in the hub's Parquet lake, read from its files as an analyst would.</summary>
    private static async Task<List<ulong>> LakeSequencesAsync(string lakeRoot, string stream)
    {
        var lake = new ParquetDataLake(new LocalDirectoryBlobStore(lakeRoot, NullLogger<LocalDirectoryBlobStore>.Instance), NullLogger<ParquetDataLake>.Instance);
        var sequences = new List<ulong>();
        await foreach (var record in lake.ReadRecordsAsync(stream, null, CancellationToken.None))
        {
            sequences.Add(record.Sequence);
        }

        sequences.Sort();
        return sequences;
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
        var sequences = new List<ulong>();
        var listing = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = $"fractal/records/stream={stream}/" });
        foreach (var entry in listing.S3Objects ?? [])
        {
            using var response = await client.GetObjectAsync(bucket, entry.Key);
            using var content = new MemoryStream();
            await response.ResponseStream.CopyToAsync(content);
            sequences.AddRange(S3BatchObject.Decode(content.ToArray()).Records.Select(r => r.Sequence));
        }

        sequences.Sort();
        return sequences;
    }
}
