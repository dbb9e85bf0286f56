using System.Globalization;
using Amazon.S3.Model;
using Fractal.Agent.Sync.Buffer;
using Fractal.Agent.Sync.Tests.Kafka;
using Fractal.Agent.Sync.Uplinks.S3;
using Fractal.Contracts.Ingest;
using Fractal.Testing;
using Fractal.Testing.Kafka;
using Fractal.Testing.Swift;

namespace Fractal.Agent.Sync.Tests.Uplinks;

/// <summary>
/// The agent's data path in a host with one real uplink whose target goes down for a while:
/// ingest continues within the quota, nothing is lost, the backlog drains when it returns.
/// (The hub's outage is covered by Fractal.SystemTests with real processes.)
/// </summary>
[Collection(SwiftS3Fixture.Name)]
public sealed class UplinkOutageTests(SwiftS3Fixture swift) : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
    private readonly TestDirectory _dir = new("uplink-outage");

    public void Dispose() => _dir.Dispose();

    private static Dictionary<string, string?> Common() => new()
    {
        ["Streams:s:Priority"] = "1",
        ["Uplinks:Hub:Enabled"] = "false",
        ["Buffer:QuotaBytes"] = "16777216",
    };

    private static async Task AppendAsync(TestAgentHost agent, int from, int count)
    {
        for (var i = from; i < from + count; i++)
        {
            var outcome = await agent.Buffer.AppendAsync(new AppendRequest("s", [1], BitConverter.GetBytes((float)i), null, $"m{i}"));
            Assert.Equal(AppendStatus.Stored, outcome.Status);
        }
    }

    private static async Task WaitUntilDrainedAsync(TestAgentHost agent)
    {
        using var deadline = new CancellationTokenSource(Patience);
        while (agent.Buffer.GetStats().BufferedRecords > 0)
        {
            await Task.WhenAny(agent.Buffer.DataCommitted, Task.Delay(200, deadline.Token));
            deadline.Token.ThrowIfCancellationRequested();
        }
    }

    [Fact]
    public async Task KafkaBrokersDown_IngestContinues_BacklogDrainsWithNothingLost()
    {
        using var kafka = new KafkaMockCluster();
        var topic = Unique.Name("records");
        kafka.CreateTopic(topic);
        var settings = Common();
        settings["Uplinks:Kafka:Enabled"] = "true";
        settings["Uplinks:Kafka:BootstrapServers"] = kafka.BootstrapServers;
        settings["Uplinks:Kafka:RecordsTopic"] = topic;
        settings["Uplinks:Kafka:MessageTimeout"] = "00:00:03";
        settings["Uplinks:Kafka:BreakDuration"] = "00:00:01";
        settings["Uplinks:Kafka:RetryMaxDelay"] = "00:00:01";
        await using var agent = await TestAgentHost.StartAsync(_dir.Path, settings);

        await AppendAsync(agent, 0, 200);
        await WaitUntilDrainedAsync(agent);
        kafka.SetAllBrokersDown();
        await AppendAsync(agent, 200, 300);
        Assert.True(agent.Buffer.GetStats().BufferedRecords >= 250, "the backlog should stay buffered while Kafka is down");

        kafka.SetAllBrokersUp();
        await WaitUntilDrainedAsync(agent);

        var messages = await KafkaTopicReader.ReadAsync(kafka.BootstrapServers, topic, 1, 500, Patience);
        var sequences = messages.Select(m => SensorRecord.Parser.ParseFrom(m.Message.Value).Sequence).ToHashSet();
        Assert.Equal(Enumerable.Range(1, 500).Select(i => (ulong)i), sequences.Order());
    }

    [Fact]
    public async Task S3Down_IngestContinues_BacklogDrainsWithNothingLost()
    {
        var bucket = Unique.Name("outage");
        var settings = Common();
        settings["Uplinks:S3:Enabled"] = "true";
        settings["Uplinks:S3:ServiceUrl"] = swift.Server.Endpoint.ToString();
        settings["Uplinks:S3:Bucket"] = bucket;
        settings["Uplinks:S3:AccessKey"] = swift.Server.AccessKey;
        settings["Uplinks:S3:SecretKey"] = swift.Server.SecretKey;
        settings["Uplinks:S3:RequestTimeout"] = "00:00:05";
        settings["Uplinks:S3:BreakDuration"] = "00:00:01";
        settings["Uplinks:S3:RetryMaxDelay"] = "00:00:01";
        await using var agent = await TestAgentHost.StartAsync(_dir.Path, settings);

        try
        {
            await AppendAsync(agent, 0, 200);
            await WaitUntilDrainedAsync(agent);
            await swift.Server.StopAsync();
            await AppendAsync(agent, 200, 300);
            Assert.True(agent.Buffer.GetStats().BufferedRecords >= 250, "the backlog should stay buffered while S3 is down");
        }
        finally
        {
            await swift.Server.StartAsync();
        }

        await WaitUntilDrainedAsync(agent);

        using var s3 = swift.Server.CreateClient();
        var sequences = new List<ulong>();
        var listing = await s3.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket });
        foreach (var item in listing.S3Objects ?? [])
        {
            using var response = await s3.GetObjectAsync(bucket, item.Key);
            using var content = new MemoryStream();
            await response.ResponseStream.CopyToAsync(content);
            sequences.AddRange(S3BatchObject.Decode(content.ToArray()).Records.Select(r => r.Sequence));
        }

        Assert.Equal(Enumerable.Range(1, 500).Select(i => (ulong)i), sequences.Distinct().Order());
        Assert.True(sequences.Count >= 500, string.Create(CultureInfo.InvariantCulture, $"{sequences.Count} records in objects"));
    }
}
