using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;

namespace Fractal.Demo;

/// <summary>
/// A local consumer of the agent's predictions, as a line controller would be: counts them and
/// scores them against the label each camera frame carried.
/// </summary>
internal sealed class PredictionCounter : IAsyncDisposable
{
    private readonly IMqttClient _client;
    private long _received;
    private long _labeled;
    private long _correct;

    private PredictionCounter(IMqttClient client) => _client = client;

    public long Received => Interlocked.Read(ref _received);

    /// <summary>Fraction of labeled predictions whose class matched the label.</summary>
    public double Accuracy => Interlocked.Read(ref _labeled) == 0 ? 0 : (double)Interlocked.Read(ref _correct) / Interlocked.Read(ref _labeled);

    public static async Task<PredictionCounter> StartAsync(int port, CancellationToken cancellationToken)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var counter = new PredictionCounter(client);
        client.ApplicationMessageReceivedAsync += e =>
        {
            using var json = JsonDocument.Parse(e.ApplicationMessage.Payload);
            Interlocked.Increment(ref counter._received);
            if (json.RootElement.TryGetProperty("expected", out var expected))
            {
                Interlocked.Increment(ref counter._labeled);
                if (expected.GetInt32() == json.RootElement.GetProperty("label").GetInt32())
                {
                    Interlocked.Increment(ref counter._correct);
                }
            }

            return Task.CompletedTask;
        };
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithProtocolVersion(MqttProtocolVersion.V500).WithClientId("demo-line-controller").Build(), cancellationToken);
        await client.SubscribeAsync("fractal/predictions/camera", cancellationToken: cancellationToken);
        return counter;
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            await _client.DisconnectAsync();
        }

        _client.Dispose();
    }
}
