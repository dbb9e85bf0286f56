using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Fractal.SystemTests.Harness;

/// <summary>
/// A QoS 1 sensor that behaves like a good device: each message has an id; when the connection
/// drops before the PUBACK it reconnects and resends the same message until acknowledged.
/// Records which messages it saw acknowledged.
/// </summary>
internal sealed class ResilientPublisher(string host, Func<int> port, string clientId)
{
    public ConcurrentBag<int> Acknowledged { get; } = [];

    public int Resends { get; private set; }

    public async Task PublishAsync(string stream, IEnumerable<int> indexes, CancellationToken cancellationToken)
    {
        IMqttClient? client = null;
        try
        {
            foreach (var index in indexes)
            {
                var message = new MqttApplicationMessageBuilder()
                    .WithTopic($"fractal/sensors/{stream}")
                    .WithPayload(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"values\":[{index}],\"id\":\"{clientId}-{index}\"}}")))
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                    .Build();
                for (var attempt = 0; ; attempt++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    try
                    {
                        client ??= await ConnectAsync(cancellationToken);
                        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                        timeout.CancelAfter(TimeSpan.FromSeconds(20));
                        var result = await client.PublishAsync(message, timeout.Token);
                        if (result.ReasonCode == MqttClientPublishReasonCode.Success)
                        {
                            Acknowledged.Add(index);
                            break;
                        }

                        throw new InvalidOperationException($"publish {index} refused: {result.ReasonCode}");
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                    {
                        // The agent died (or restarts): reconnect and send the same message again.
                        Resends++;
                        client?.Dispose();
                        client = null;
                        await Task.Delay(Math.Min(20 * (attempt + 1), 200), cancellationToken);
                    }
                }
            }
        }
        finally
        {
            client?.Dispose();
        }
    }

    private async Task<IMqttClient> ConnectAsync(CancellationToken cancellationToken)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        try
        {
            await client.ConnectAsync(
                new MqttClientOptionsBuilder().WithTcpServer(host, port()).WithProtocolVersion(MqttProtocolVersion.V500).WithClientId(clientId).WithTimeout(TimeSpan.FromSeconds(5)).Build(),
                cancellationToken);
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }
}
