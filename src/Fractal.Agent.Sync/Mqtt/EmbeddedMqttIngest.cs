using System.Net;
using Fractal.Agent.Sync.Ingest;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Fractal.Agent.Sync.Mqtt;

/// <summary>
/// The embedded MQTT server (MQTTnet) for nodes without a broker. Sensor publishes are
/// intercepted and committed before the server sends PUBACK.
/// </summary>
/// <remarks>
/// MQTTnet awaits the interceptor before it queues the PUBACK and handles one client's packets
/// in order, so one sensor connection gets one commit per message; many sensors share group
/// commits. A failed commit closes the connection instead of acknowledging, so the sensor
/// resends. See docs/design/0002-durable-buffer.md.
/// </remarks>
internal sealed class EmbeddedMqttIngest(IngestPipeline pipeline, IOptions<MqttIngestOptions> options, ILogger<EmbeddedMqttIngest> logger) : IHostedService, ILocalPublisher, IAsyncDisposable
{
    /// <summary>The sender id of the agent's own messages, as local subscribers see it.</summary>
    internal const string AgentSenderId = "fractal-agent";

    private MqttServer? _server;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        var (v4, v6) = EmbeddedEndpoint.Addresses(IPAddress.Parse(o.EmbeddedBindAddress));
        var serverOptions = new MqttServerOptionsBuilder()
            .WithDefaultEndpoint()
            .WithDefaultEndpointBoundIPAddress(v4)
            .WithDefaultEndpointBoundIPV6Address(v6)
            .WithDefaultEndpointPort(o.EmbeddedPort)
            .WithPersistentSessions()
            .Build();
        _server = new MqttServerFactory().CreateMqttServer(serverOptions);
        _server.InterceptingPublishAsync += OnPublishAsync;
        _server.ValidatingConnectionAsync += e =>
        {
            // An MQTT 5 sensor may leave its client id empty and have the server assign one. MQTTnet
            // takes the assigned id only for MQTT 5; an MQTT 3.1.1 sensor without an id (mosquitto_pub
            // without -i) is refused with "identifier rejected", as the 3.1.1 spec allows.
            if (string.IsNullOrEmpty(e.ClientId))
            {
                e.AssignedClientIdentifier = "sensor-" + Guid.NewGuid().ToString("N")[..12];
            }

            return Task.CompletedTask;
        };
        await _server.StartAsync();
        MqttLog.EmbeddedStarted(logger, o.EmbeddedBindAddress, o.EmbeddedPort);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null)
        {
            await _server.StopAsync();
        }
    }

    public async ValueTask<bool> TryPublishAsync(string topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var server = _server;
        if (server is null || !server.IsStarted)
        {
            return false;
        }

        var message = MqttMessages.Local(topic, payload);
        await server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { SenderClientId = AgentSenderId }, cancellationToken);
        return true;
    }

    public ValueTask DisposeAsync()
    {
        _server?.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task OnPublishAsync(InterceptingPublishEventArgs e)
    {
        var message = e.ApplicationMessage;
        if (!message.Topic.StartsWith(IngestMessage.TopicPrefix, StringComparison.Ordinal))
        {
            // Not sensor data (e.g. predictions published back to local consumers): route normally.
            return;
        }

        // The agent is the consumer of sensor topics; nothing is routed on to other clients.
        e.ProcessPublish = false;
        try
        {
            var result = await pipeline.SubmitAsync(MqttMessages.ToIngestMessage(message), e.CancellationToken);
            if (result == IngestResult.DeadLettered)
            {
                // Kept in the dead-letter store; MQTT 5 senders learn why it was not taken.
                e.Response.ReasonCode = MqttPubAckReasonCode.PayloadFormatInvalid;
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Never acknowledge what is not committed: drop the connection, the sensor resends.
            MqttLog.CommitFailed(logger, message.Topic, ex);
            e.CloseConnection = true;
        }
    }
}
