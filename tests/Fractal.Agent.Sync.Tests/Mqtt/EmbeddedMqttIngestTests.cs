using System.Text;
using Fractal.Agent.Sync.Mqtt;
using Fractal.Agent.Sync.Tests.Uplinks;
using Fractal.Agent.Sync.Uplinks;
using Fractal.Testing;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Fractal.Agent.Sync.Tests.Mqtt;

public sealed class EmbeddedMqttIngestTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TestDirectory _dir = new("embedded-mqtt");

    public void Dispose() => _dir.Dispose();

    private static async Task<IMqttClient> ConnectSensorAsync(int port)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithProtocolVersion(MqttProtocolVersion.V500).WithClientId(Unique.Name("sensor")).Build());
        return client;
    }

    /// <summary>The agent's data path with its embedded server on <paramref name="port"/> and one stream, "temperature".</summary>
    private Task<TestAgentHost> StartWithTemperatureStreamAsync(int port)
        => TestAgentHost.StartAsync(_dir.Path, new Dictionary<string, string?>
        {
            ["Mqtt:EmbeddedPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Streams:temperature:Priority"] = "1",
        });

    private static MqttApplicationMessage Reading(string stream, string json)
        => new MqttApplicationMessageBuilder().WithTopic($"fractal/sensors/{stream}").WithPayload(Encoding.UTF8.GetBytes(json)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();

    [Fact]
    public async Task PublishQos1_PubAckArrives_OnlyWithTheReadingCommitted()
    {
        var port = FreePort.Next();
        await using var agent = await StartWithTemperatureStreamAsync(port);
        using var sensor = await ConnectSensorAsync(port);

        for (var i = 0; i < 20; i++)
        {
            var result = await sensor.PublishAsync(Reading("temperature", $$"""{"values":[{{i}}.5, 2], "label": 1}"""));
            Assert.Equal(MqttClientPublishReasonCode.Success, result.ReasonCode);

            // The PUBACK has arrived: the reading must already be in the buffer.
            var stored = agent.Buffer.Read("temperature", (ulong)i, 1, long.MaxValue);
            Assert.Single(stored);
            Assert.Equal(i + 0.5f, TestBuffersValue(stored[0].Values));
        }
    }

    [Fact]
    public async Task ConnectMqtt5_WithoutClientId_IsAssignedOneAndItsReadingsCommit()
    {
        var port = FreePort.Next();
        await using var agent = await StartWithTemperatureStreamAsync(port);
        using var sensor = new MqttClientFactory().CreateMqttClient();
        var connected = await sensor.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithProtocolVersion(MqttProtocolVersion.V500).WithClientId(string.Empty).Build());

        Assert.Equal(MqttClientConnectResultCode.Success, connected.ResultCode);
        Assert.StartsWith("sensor-", connected.AssignedClientIdentifier, StringComparison.Ordinal);
        Assert.Equal(MqttClientPublishReasonCode.Success, (await sensor.PublishAsync(Reading("temperature", "[7]"))).ReasonCode);
        Assert.Single(agent.Buffer.Read("temperature", 0, 10, long.MaxValue));
    }

    [Fact]
    public async Task ConnectMqtt311_WithoutClientId_IsRefusedAsIdentifierRejected()
    {
        var port = FreePort.Next();
        await using var agent = await StartWithTemperatureStreamAsync(port);

        // The bytes mosquitto_pub sends without -i (client libraries fill in an id of their own):
        // CONNECT, protocol "MQTT" level 4, clean session, keep-alive 60 s, empty client id.
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(new byte[] { 0x10, 12, 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 0x02, 0, 60, 0, 0 });
        var connack = new byte[4];
        await stream.ReadExactlyAsync(connack).AsTask().WaitAsync(Patience);

        // CONNACK, remaining length 2, no session, return code 2: identifier rejected.
        Assert.Equal(new byte[] { 0x20, 2, 0, 2 }, connack);
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1", "::1")]
    [InlineData("::1", "127.0.0.1", "::1")]
    [InlineData("0.0.0.0", "0.0.0.0", "::")]
    [InlineData("::", "0.0.0.0", "::")]
    [InlineData("10.1.2.3", "10.1.2.3", "255.255.255.255")]
    [InlineData("fd00::5", "255.255.255.255", "fd00::5")]
    public void EmbeddedEndpoint_ConfiguredAddress_ListensOnThatScopeOnly(string configured, string v4, string v6)
    {
        // 255.255.255.255 is IPAddress.None: that address family is not bound at all. Before, a
        // server configured for 127.0.0.1 also listened on every IPv6 interface.
        var (boundV4, boundV6) = EmbeddedEndpoint.Addresses(System.Net.IPAddress.Parse(configured));
        Assert.Equal(System.Net.IPAddress.Parse(v4), boundV4);
        Assert.Equal(System.Net.IPAddress.Parse(v6), boundV6);
    }

    [Fact]
    public async Task PublishMalformed_IsDeadLetteredWithReason_AndLaterReadingsStillFlow()
    {
        var port = FreePort.Next();
        await using var agent = await StartWithTemperatureStreamAsync(port);
        using var sensor = await ConnectSensorAsync(port);

        var bad = await sensor.PublishAsync(Reading("temperature", "{\"values\": [1, \"two\"]"));
        var unknown = await sensor.PublishAsync(Reading("no-such-stream", "[1]"));
        var good = await sensor.PublishAsync(Reading("temperature", "[42]"));

        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, bad.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.PayloadFormatInvalid, unknown.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.Success, good.ReasonCode);
        var dead = agent.Buffer.ReadDeadLetters(10);
        Assert.Equal(2, dead.Count);
        Assert.Contains("arrays must hold finite numbers only", dead[0].Reason, StringComparison.Ordinal);
        Assert.Equal("unknown stream 'no-such-stream'", dead[1].Reason);
        Assert.Single(agent.Buffer.Read("temperature", 0, 10, long.MaxValue));
    }

    [Fact]
    public async Task QuotaFullUnderPushBack_PubAckIsWithheld_UntilTheBacklogDrains()
    {
        var gate = new GatedTransport();
        var port = FreePort.Next();
        await using var agent = await TestAgentHost.StartAsync(_dir.Path, new Dictionary<string, string?>
        {
            ["Mqtt:EmbeddedPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Buffer:QuotaBytes"] = "65536",
            ["Streams:camera:WhenFull"] = "PushBack",
        }, services => services.AddSingleton<IUplinkTransport>(gate));
        using var sensor = await ConnectSensorAsync(port);
        var values = "[" + string.Join(',', Enumerable.Repeat("1.5", 1000)) + "]";
        var acknowledged = 0;
        while (agent.Buffer.GetStats().BufferedBytes + 4100 <= 65536)
        {
            await sensor.PublishAsync(Reading("camera", values));
            acknowledged++;
        }

        var held = sensor.PublishAsync(Reading("camera", values));
        using (var deadline = new CancellationTokenSource(Patience))
        {
            // The message crosses the network before the buffer sees it: wait until it is held.
            while (agent.Buffer.GetStats().BlockedAppends < 1)
            {
                await Task.WhenAny(agent.Buffer.DataCommitted, Task.Delay(50, deadline.Token));
                deadline.Token.ThrowIfCancellationRequested();
            }
        }

        Assert.False(held.IsCompleted, "PUBACK must not be sent while the quota is full under push-back");
        Assert.Equal(1, agent.Buffer.GetStats().BlockedAppends);

        // The uplink comes back: it drains the backlog, space frees, the held message commits
        // and only then is acknowledged.
        gate.Open();
        var result = await held.WaitAsync(Patience);
        Assert.Equal(MqttClientPublishReasonCode.Success, result.ReasonCode);
        // Space frees as soon as the first batch is acknowledged; the rest drains after.
        using (var deadline = new CancellationTokenSource(Patience))
        {
            while (gate.Delivered < acknowledged + 1)
            {
                await Task.WhenAny(agent.Buffer.DataCommitted, Task.Delay(100, deadline.Token));
                deadline.Token.ThrowIfCancellationRequested();
            }
        }

        Assert.Equal(acknowledged + 1, gate.Delivered);
        Assert.Empty(agent.Buffer.ReadLosses(0, 10));
    }

    private static float TestBuffersValue(byte[] values) => BitConverter.ToSingle(values, 0);
}
