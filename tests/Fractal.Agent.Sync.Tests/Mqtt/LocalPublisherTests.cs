using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Fractal.Agent.Sync.Mqtt;
using Fractal.Testing;
using Fractal.Testing.Mosquitto;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Fractal.Agent.Sync.Tests.Mqtt;

/// <summary>The agent's own messages (predictions) go out through whichever MQTT front end ingests the sensors.</summary>
public sealed class LocalPublisherTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TestDirectory _dir = new("local-publisher");

    public void Dispose() => _dir.Dispose();

    private static async Task<(IMqttClient Client, Channel<string> Received)> SubscribeAsync(string host, int port)
    {
        var received = Channel.CreateUnbounded<string>();
        var client = new MqttClientFactory().CreateMqttClient();
        client.ApplicationMessageReceivedAsync += e =>
        {
            received.Writer.TryWrite($"{e.ApplicationMessage.Topic} {Encoding.UTF8.GetString(e.ApplicationMessage.Payload)}");
            return Task.CompletedTask;
        };
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(host, port).WithProtocolVersion(MqttProtocolVersion.V500).WithClientId(Unique.Name("consumer")).Build());
        await client.SubscribeAsync("fractal/predictions/#", MqttQualityOfServiceLevel.AtMostOnce);
        return (client, received);
    }

    [Fact]
    public async Task Embedded_Publish_ReachesLocalSubscribers()
    {
        var port = FreePort.Next();
        await using var agent = await TestAgentHost.StartAsync(_dir.Path, new Dictionary<string, string?> { ["Mqtt:EmbeddedPort"] = port.ToString(CultureInfo.InvariantCulture) });
        var (client, received) = await SubscribeAsync("127.0.0.1", port);
        using var _ = client;

        Assert.True(await agent.Services.GetRequiredService<ILocalPublisher>().TryPublishAsync("fractal/predictions/cam", "{\"label\":3}"u8.ToArray(), CancellationToken.None));

        using var timeout = new CancellationTokenSource(Patience);
        Assert.Equal("fractal/predictions/cam {\"label\":3}", await received.Reader.ReadAsync(timeout.Token));
    }

    [Fact]
    public async Task Broker_Publish_ReachesTheBrokersSubscribers_AndReportsFalseWhileTheBrokerIsDown()
    {
        var broker = await MosquittoBroker.StartAsync();
        try
        {
            await using var agent = await TestAgentHost.StartAsync(_dir.Path, new Dictionary<string, string?>
            {
                ["Mqtt:BrokerHost"] = broker.Host,
                ["Mqtt:BrokerPort"] = broker.Port.ToString(CultureInfo.InvariantCulture),
            });
            var publisher = agent.Services.GetRequiredService<ILocalPublisher>();
            var (client, received) = await SubscribeAsync(broker.Host, broker.Port);
            using var _ = client;

            // The agent connects in the background: publish until its connection is up.
            using var timeout = new CancellationTokenSource(Patience);
            while (!await publisher.TryPublishAsync("fractal/predictions/cam", "{\"label\":5}"u8.ToArray(), timeout.Token))
            {
                await Task.Delay(50, timeout.Token);
            }

            Assert.Equal("fractal/predictions/cam {\"label\":5}", await received.Reader.ReadAsync(timeout.Token));

            await broker.DisposeAsync();
            var deadline = DateTime.UtcNow + Patience;
            var published = true;
            while (published && DateTime.UtcNow < deadline)
            {
                // Once the agent notices the broker is gone, publishing reports false instead of throwing.
                published = await publisher.TryPublishAsync("fractal/predictions/cam", "{}"u8.ToArray(), CancellationToken.None);
                await Task.Delay(50);
            }

            Assert.False(published);
        }
        finally
        {
            await broker.DisposeAsync();
        }
    }
}
