using System.Globalization;
using System.Text;
using Fractal.SystemTests.Harness;
using Fractal.Testing;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Fractal.SystemTests;

/// <summary>
/// The hub and the agent as real processes: the hub goes away and comes back; the quota fills
/// under both policies; the hub ends up with every acknowledged reading once, and a loss ledger
/// that names exactly what the agent evicted.
/// </summary>
public sealed class UplinkOutageAndQuotaTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
    private readonly TestDirectory _dir = new("outage");

    public void Dispose() => _dir.Dispose();

    private static async Task<IMqttClient> ConnectAsync(AgentProcess agent)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", agent.MqttPort).WithProtocolVersion(MqttProtocolVersion.V500).WithClientId(Unique.Name("sensor")).Build());
        return client;
    }

    private static MqttApplicationMessage Reading(string stream, int index, int width = 1)
    {
        var values = string.Join(',', Enumerable.Repeat(index.ToString(CultureInfo.InvariantCulture), width));
        return new MqttApplicationMessageBuilder().WithTopic($"fractal/sensors/{stream}")
            .WithPayload(Encoding.UTF8.GetBytes($"{{\"values\":[{values}],\"id\":\"{stream}-{index}\"}}"))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
    }

    private static async Task<Dictionary<int, int>> LakeCountsAsync(HubProcess hub, string stream)
    {
        var counts = new Dictionary<int, int>();
        await foreach (var record in hub.OpenLake().ReadRecordsAsync(stream, null, CancellationToken.None))
        {
            var index = (int)record.Values[0];
            counts[index] = counts.GetValueOrDefault(index) + 1;
        }

        return counts;
    }

    [Fact]
    public async Task HubDown_IngestContinues_AndTheBacklogDrainsExactlyOnceWhenItReturns()
    {
        await using var hub = new HubProcess(_dir.Combine("lake"));
        await hub.StartAsync();
        await using var agent = new AgentProcess(_dir.Combine("agent"), [$"--Uplinks:Hub:Address={hub.GrpcAddress}", "--Streams:s:Priority=1", "--Uplinks:Hub:BreakDuration=00:00:01", "--Uplinks:Hub:RetryMaxDelay=00:00:01"]);
        await agent.StartAsync();
        using var sensor = await ConnectAsync(agent);

        for (var i = 0; i < 500; i++)
        {
            Assert.True((await sensor.PublishAsync(Reading("s", i))).IsSuccess);
        }

        await hub.StopAsync();
        for (var i = 500; i < 1500; i++)
        {
            // The hub is down: the agent still acknowledges, because the reading is in its buffer.
            Assert.True((await sensor.PublishAsync(Reading("s", i))).IsSuccess);
        }

        Assert.True(await agent.MetricAsync("fractal_buffered_records") >= 900, "the backlog should be buffered on the node while the hub is down");
        Assert.True(await agent.MetricAsync("fractal_uplink_errors_total", "{uplink=\"hub\"}") > 0, "the hub uplink should have seen failures");

        await hub.StartAsync();
        await agent.WaitUntilDrainedAsync(Patience);

        var counts = await LakeCountsAsync(hub, "s");
        Assert.Equal(Enumerable.Range(0, 1500), counts.Keys.Order());
        Assert.All(counts.Values, c => Assert.Equal(1, c));
    }

    [Fact]
    public async Task QuotaFullWithHubDown_PushBackWithholdsAcks_EvictionFollowsPriority_LedgerAtHubMatchesEvictions()
    {
        await using var hub = new HubProcess(_dir.Combine("lake"));
        await using var agent = new AgentProcess(_dir.Combine("agent"),
        [
            $"--Uplinks:Hub:Address={hub.GrpcAddress}",
            "--Buffer:QuotaBytes=131072",
            "--Streams:keep:Priority=5",
            "--Streams:keep:WhenFull=PushBack",
            "--Streams:important:Priority=3",
            "--Streams:important:WhenFull=EvictOldest",
            "--Streams:bulk:Priority=0",
            "--Streams:bulk:WhenFull=EvictOldest",
            "--Uplinks:Hub:BreakDuration=00:00:01",
            "--Uplinks:Hub:RetryMaxDelay=00:00:01",
        ]);
        await agent.StartAsync(); // the hub is not running yet
        using var sensor = await ConnectAsync(agent);

        // ~4 KiB readings: 8 important and 40 bulk into a 128 KiB quota. Bulk (lowest priority)
        // must absorb every eviction; important must survive whole.
        for (var i = 0; i < 8; i++)
        {
            Assert.True((await sensor.PublishAsync(Reading("important", i, width: 1000))).IsSuccess);
        }

        for (var i = 0; i < 40; i++)
        {
            Assert.True((await sensor.PublishAsync(Reading("bulk", i, width: 1000))).IsSuccess);
        }

        var evicted = await agent.MetricAsync("fractal_evicted_total", "{stream=\"bulk\",reason=\"evicted\"}");
        Assert.True(evicted > 0, "the quota should have forced evictions");
        Assert.Equal(0, await agent.MetricAsync("fractal_evicted_total", "{stream=\"important\",reason=\"evicted\"}"));

        // Push-back: a push-back stream's reading over quota is not acknowledged.
        using var pushSensor = await ConnectAsync(agent);
        var held = pushSensor.PublishAsync(Reading("keep", 0, width: 1000));
        using (var deadline = new CancellationTokenSource(Patience))
        {
            while (await agent.MetricAsync("fractal_blocked_appends") < 1)
            {
                await Task.Delay(100, deadline.Token); // readiness poll of the agent's metric
            }
        }

        Assert.False(held.IsCompleted, "PUBACK must be withheld while the quota is full under push-back");

        // The hub returns: the backlog drains, the held reading commits and is acknowledged.
        await hub.StartAsync();
        Assert.True((await held.WaitAsync(Patience)).IsSuccess);
        await agent.WaitUntilDrainedAsync(Patience);

        var bulk = await LakeCountsAsync(hub, "bulk");
        var important = await LakeCountsAsync(hub, "important");
        var keep = await LakeCountsAsync(hub, "keep");
        var losses = await hub.OpenLake().ReadLossesAsync(null, CancellationToken.None);
        var lostBulk = losses.Where(l => l.Stream == "bulk").SelectMany(l => l.Sequences).ToList();

        Assert.Equal(Enumerable.Range(0, 8), important.Keys.Order());
        Assert.Equal([0], keep.Keys);
        Assert.DoesNotContain(losses, l => l.Stream != "bulk");
        Assert.Equal((int)evicted, lostBulk.Count);
        Assert.Equal(lostBulk.Count, lostBulk.Distinct().Count());
        // Sequences are assigned 1..40 in publish order (index i has sequence i + 1): together the
        // lake and the ledger account for every bulk reading, each exactly once.
        var inLake = bulk.Keys.Select(i => (ulong)i + 1).ToHashSet();
        Assert.Empty(inLake.Intersect(lostBulk));
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (ulong)i), inLake.Concat(lostBulk).Order());
        Assert.All(bulk.Values, c => Assert.Equal(1, c));
        // Eviction takes the oldest first: what was lost precedes what was kept.
        Assert.True(lostBulk.Max() < inLake.Min(), "eviction must take the oldest bulk readings first");
    }
}
