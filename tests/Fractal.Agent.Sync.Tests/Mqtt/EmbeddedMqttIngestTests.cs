using System.Text;
using Fractal.Agent.Sync.Tests.Uplinks;
using Fractal.Agent.Sync.Uplinks;
using Fractal.Testing;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
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

    private static MqttApplicationMessage Reading(string stream, string json)
        => new MqttApplicationMessageBuilder().WithTopic($"fractal/sensors/{stream}").WithPayload(Encoding.UTF8.GetBytes(json)).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();

    [Fact]
    public async Task PublishQos1_PubAckArrives_OnlyWithTheReadingCommitted()
    {
        var port = FreePort.Next();
        await using var agent = await TestAgentHost.StartAsync(_dir.Path, new Dictionary<string, string?>
        {
            ["Mqtt:EmbeddedPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Streams:temperature:Priority"] = "1",
        });
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
    public async Task PublishMalformed_IsDeadLetteredWithReason_AndLaterReadingsStillFlow()
    {
        var port = FreePort.Next();
        await using var agent = await TestAgentHost.StartAsync(_dir.Path, new Dictionary<string, string?>
        {
            ["Mqtt:EmbeddedPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Streams:temperature:Priority"] = "1",
        });
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
