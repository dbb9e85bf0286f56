using System.Globalization;
using System.Text;
using Fractal.Agent.Sync.Mqtt;
using Fractal.Testing;
using Fractal.Testing.Mosquitto;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Fractal.Agent.Sync.Tests.Mqtt;

/// <summary>The agent subscribed to a real mosquitto with a persistent QoS 1 session.</summary>
public sealed class BrokerMqttIngestTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestDirectory _dir = new("broker-mqtt");

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(null, 256 * 1024)]
    [InlineData(65536, 65536)]
    public void ClientOptions_PersistentSessionWithTheConfiguredWindowAndSocketBuffers(int? configured, int expected)
    {
        var mqtt = new MqttIngestOptions { BrokerHost = "broker.local", BrokerPort = 1884, ReceiveMaximum = 500 };
        if (configured is { } bytes)
        {
            mqtt.SocketBufferBytes = bytes;
        }

        var options = BrokerMqttIngest.ClientOptions(mqtt, "node-7");

        // Not MQTTnet's 8 KiB: that fixed the TCP window at a few dozen readings.
        Assert.Equal(expected, ((MqttClientTcpOptions)options.ChannelOptions).BufferSize);
        Assert.Equal("fractal-agent-node-7", options.ClientId);
        Assert.False(options.CleanSession);
        Assert.Equal(uint.MaxValue, options.SessionExpiryInterval);
        Assert.Equal(500, options.ReceiveMaximum);
        Assert.Equal(MqttProtocolVersion.V500, options.ProtocolVersion);
    }

    private static Dictionary<string, string?> Settings(MosquittoBroker broker) => new()
    {
        ["Mqtt:BrokerHost"] = broker.Host,
        ["Mqtt:BrokerPort"] = broker.Port.ToString(CultureInfo.InvariantCulture),
        ["Streams:vibration:Priority"] = "1",
    };

    private static async Task<IMqttClient> ConnectPublisherAsync(MosquittoBroker broker)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(broker.Host, broker.Port).WithProtocolVersion(MqttProtocolVersion.V500).WithClientId(Unique.Name("pub")).Build());
        return client;
    }

    private static async Task PublishAsync(IMqttClient publisher, int from, int count)
    {
        for (var i = from; i < from + count; i++)
        {
            await publisher.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic("fractal/sensors/vibration")
                .WithPayload(Encoding.UTF8.GetBytes($$"""{"values":[{{i}}],"id":"m{{i}}"}"""))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build());
        }
    }

    private static async Task WaitForRecordsAsync(TestAgentHost agent, int count)
    {
        using var deadline = new CancellationTokenSource(Patience);
        while (agent.Buffer.GetStats().BufferedRecords < count)
        {
            await agent.Buffer.DataCommitted.WaitAsync(deadline.Token);
        }
    }

    [Fact]
    public async Task Subscribe_ReadingsPublishedToMosquitto_AreCommittedInOrder()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        await using var agent = await TestAgentHost.StartAsync(_dir.Path, Settings(broker));
        using var publisher = await ConnectPublisherAsync(broker);

        await WaitForSubscriptionAsync(broker, agent);
        await PublishAsync(publisher, 0, 500);
        await WaitForRecordsAsync(agent, 501);

        var values = agent.Buffer.Read("vibration", 0, 1000, long.MaxValue).Select(r => BitConverter.ToSingle(r.Values)).ToList();
        Assert.Equal(Enumerable.Range(-1, 501).Select(i => (float)i), values);
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("00:00:00.001")]
    [InlineData("00:00:00.020")]
    public async Task Subscribe_AStreamWithManyInFlight_IsCommittedWhole_WithOrWithoutReadCoalescing(string readCoalescing)
    {
        const int Messages = 4000;
        await using var broker = await MosquittoBroker.StartAsync();
        var settings = Settings(broker);
        settings["Mqtt:ReadCoalescing"] = readCoalescing;
        await using var agent = await TestAgentHost.StartAsync(_dir.Path, settings);
        using var publisher = await ConnectPublisherAsync(broker);
        await WaitForSubscriptionAsync(broker, agent);

        // 100 in flight at a time: a stream fast enough for the coalescing receives to wait.
        for (var from = 0; from < Messages; from += 100)
        {
            await Task.WhenAll(Enumerable.Range(from, 100).Select(i => PublishAsync(publisher, i, 1)));
        }

        await WaitForRecordsAsync(agent, Messages + 1);
        var values = agent.Buffer.Read("vibration", 0, Messages + 10, long.MaxValue).Select(r => BitConverter.ToSingle(r.Values)).ToList();

        // Every reading exactly once (concurrent publishes need not reach the broker in call order).
        Assert.Equal(Enumerable.Range(-1, Messages + 1).Select(i => (float)i), values.Order());
    }

    [Fact]
    public async Task AgentOffline_PersistentSession_MessagesPublishedMeanwhileArriveAfterRestart()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        using var publisher = await ConnectPublisherAsync(broker);
        var settings = Settings(broker);
        await using (var agent = await TestAgentHost.StartAsync(_dir.Path, settings))
        {
            await WaitForSubscriptionAsync(broker, agent);
            await PublishAsync(publisher, 0, 100);
            await WaitForRecordsAsync(agent, 101);
        }

        // The agent is down; mosquitto keeps QoS 1 messages for its persistent session.
        await PublishAsync(publisher, 100, 300);

        await using var restarted = await TestAgentHost.StartAsync(_dir.Path, settings);
        await WaitForRecordsAsync(restarted, 401);
        var values = restarted.Buffer.Read("vibration", 0, 1000, long.MaxValue).Select(r => BitConverter.ToSingle(r.Values)).ToList();
        Assert.Equal(Enumerable.Range(-1, 401).Select(i => (float)i), values);
    }

    /// <summary>
    /// Publishes a marker reading (value -1) until the agent has committed it, which proves its
    /// subscription is in place (messages published before it would not be queued for it).
    /// </summary>
    private static async Task WaitForSubscriptionAsync(MosquittoBroker broker, TestAgentHost agent)
    {
        using var publisher = await ConnectPublisherAsync(broker);
        using var deadline = new CancellationTokenSource(Patience);
        while (agent.Buffer.GetStats().BufferedRecords == 0)
        {
            await publisher.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic("fractal/sensors/vibration")
                .WithPayload("""{"values":[-1],"id":"marker"}"""u8.ToArray())
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build(), deadline.Token);
            await Task.WhenAny(agent.Buffer.DataCommitted, Task.Delay(200, deadline.Token));
        }
    }
}
