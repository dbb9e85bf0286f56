using System.Threading.Channels;
using Fractal.Agent.Sync.Identity;
using Fractal.Agent.Sync.Ingest;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Fractal.Agent.Sync.Mqtt;

/// <summary>
/// Subscribes to an existing broker (mosquitto) with a persistent session and QoS 1, and
/// acknowledges each message only after it is committed to the buffer.
/// </summary>
/// <remarks>
/// Messages are handed to the pipeline without waiting, so many are in flight at once and share
/// group commits; acknowledgements go out in arrival order (MQTT requires PUBACKs in the order
/// of the PUBLISHes) from one loop that awaits each commit. Anything not acknowledged when the
/// agent dies is redelivered by the broker from the persistent session.
/// </remarks>
internal sealed class BrokerMqttIngest(
    IngestPipeline pipeline,
    NodeIdentity identity,
    IOptions<MqttIngestOptions> options,
    TimeProvider time,
    ILogger<BrokerMqttIngest> logger) : BackgroundService, ILocalPublisher
{
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromSeconds(1);

    // Bounded by the in-flight window we grant the broker: when it is full the message handler
    // waits, MQTTnet stops reading the socket, and TCP pushes back on the broker instead of the
    // agent buffering an unbounded backlog in memory.
    private readonly Channel<(MqttApplicationMessageReceivedEventArgs Message, Task<IngestResult> Commit)> _pendingAcks =
        Channel.CreateBounded<(MqttApplicationMessageReceivedEventArgs, Task<IngestResult>)>(new BoundedChannelOptions(options.Value.ReceiveMaximum)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });

    private IMqttClient? _client;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        // Many packets per socket call each way: a group commit's PUBACKs leave together, and,
        // with Mqtt:ReadCoalescing (on by default), a streaming broker's PUBLISHes are received together
        // (BufferedMqttChannel).
        using var client = new MqttClientFactory().CreateMqttClient(new BufferedClientAdapterFactory(o.ReadCoalescing, time));
        _client = client;
        client.ApplicationMessageReceivedAsync += e =>
        {
            if (!e.ApplicationMessage.Topic.StartsWith(IngestMessage.TopicPrefix, StringComparison.Ordinal))
            {
                return Task.CompletedTask;
            }

            e.AutoAcknowledge = false;
            // Not cancelled by stopping: a commit that started finishes, and is acknowledged
            // before the client disconnects (graceful shutdown loses no acknowledgement).
            var commit = pipeline.SubmitAsync(MqttMessages.ToIngestMessage(e.ApplicationMessage), CancellationToken.None).AsTask();
            return WriteOrDropAsync(e, commit);
        };

        var clientOptions = ClientOptions(o, identity.NodeId);

        var acks = AcknowledgeInOrderAsync(client);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (!client.IsConnected)
                {
                    try
                    {
                        var result = await client.ConnectAsync(clientOptions, stoppingToken);
                        await client.SubscribeAsync(
                            new MqttClientSubscribeOptionsBuilder().WithTopicFilter(IngestMessage.TopicFilter, MqttQualityOfServiceLevel.AtLeastOnce).Build(),
                            stoppingToken);
                        MqttLog.Subscribed(logger, IngestMessage.TopicFilter, o.BrokerHost, o.BrokerPort, result.IsSessionPresent);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        MqttLog.BrokerUnreachable(logger, o.BrokerHost, o.BrokerPort, ex);
                    }
                }

                await Task.Delay(ReconnectDelay, time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: the finally block acknowledges what is committed, then disconnects.
        }
        finally
        {
            _pendingAcks.Writer.TryComplete();
            await acks;
            _client = null;
            if (client.IsConnected)
            {
                await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build(), CancellationToken.None);
            }
        }
    }

    /// <summary>The broker session: MQTT 5, persistent (clean start off, session never expires), the configured window.</summary>
    internal static MqttClientOptions ClientOptions(MqttIngestOptions o, string nodeId)
    {
        var clientOptions = new MqttClientOptionsBuilder()
            .WithTcpServer(o.BrokerHost, o.BrokerPort)
            .WithClientId(string.IsNullOrEmpty(o.ClientId) ? $"fractal-agent-{nodeId}" : o.ClientId)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(false)
            .WithSessionExpiryInterval(uint.MaxValue)
            .WithReceiveMaximum((ushort)o.ReceiveMaximum)
            .WithCredentials(string.IsNullOrEmpty(o.Username) ? null : o.Username, string.IsNullOrEmpty(o.Password) ? null : o.Password)
            .Build();
        // MQTTnet sets the socket's kernel buffers itself when it connects (8 KiB unless told otherwise).
        ((MqttClientTcpOptions)clientOptions.ChannelOptions).BufferSize = o.SocketBufferBytes;
        return clientOptions;
    }

    public async ValueTask<bool> TryPublishAsync(string topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var client = _client;
        if (client is null || !client.IsConnected)
        {
            return false;
        }

        var message = MqttMessages.Local(topic, payload);
        try
        {
            await client.PublishAsync(message, cancellationToken);
            return true;
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or ObjectDisposedException)
        {
            // The connection dropped between the check and the send; the reconnect loop recovers.
            return false;
        }
    }

    private async Task WriteOrDropAsync(MqttApplicationMessageReceivedEventArgs message, Task<IngestResult> commit)
    {
        try
        {
            await _pendingAcks.Writer.WriteAsync((message, commit));
        }
        catch (ChannelClosedException)
        {
            // Stopping: not acknowledged, so the broker redelivers it from the session.
        }
    }

    private async Task AcknowledgeInOrderAsync(IMqttClient client)
    {
        await foreach (var (message, commit) in _pendingAcks.Reader.ReadAllAsync(CancellationToken.None))
        {
            try
            {
                await commit;
                if (client.IsConnected)
                {
                    await message.AcknowledgeAsync(CancellationToken.None);
                }
            }
            catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException or OperationCanceledException)
            {
                // The connection dropped: the broker redelivers, the source id drops the duplicate.
                MqttLog.AckDropped(logger, ex);
            }
            catch (Exception ex) when (ex is IOException or LiteDB.LiteException or ObjectDisposedException)
            {
                // Acknowledging later messages past an uncommitted one would let the broker
                // believe the stream is delivered; drop the session connection instead so the
                // broker redelivers everything unacknowledged.
                MqttLog.CommitFailed(logger, message.ApplicationMessage.Topic, ex);
                if (client.IsConnected)
                {
                    await client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().WithReason(MqttClientDisconnectOptionsReason.UnspecifiedError).Build(), CancellationToken.None);
                }
            }
        }
    }
}
