using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Fractal.Agent.Inference.Models;
using Fractal.Agent.Inference.Serving;
using Fractal.Agent.Sync;
using Fractal.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Fractal.Agent.Inference.Tests.Serving;

/// <summary>
/// The agent's data path and inference in one real host (embedded MQTT server on a free port),
/// with a sensor client that publishes readings and a consumer client that collects predictions.
/// </summary>
internal sealed class PredictingAgent : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly IMqttClient _sensor;
    private readonly IMqttClient _consumer;

    private PredictingAgent(IHost host, IMqttClient sensor, IMqttClient consumer)
    {
        _host = host;
        _sensor = sensor;
        _consumer = consumer;
    }

    /// <summary>Predictions received, per stream, in arrival order.</summary>
    public ConcurrentDictionary<string, ConcurrentQueue<JsonElement>> Predictions { get; } = new();

    public IServiceProvider Services => _host.Services;

    public IModelDeployer Deployer => Services.GetRequiredService<IModelDeployer>();

    public IModelRuntime Runtime => Services.GetRequiredService<IModelRuntime>();

    public InferenceMetrics Metrics => Services.GetRequiredService<InferenceMetrics>();

    public static async Task<PredictingAgent> StartAsync(string stateDirectory, IDictionary<string, string?> settings)
    {
        var port = FreePort.Next();
        var all = new Dictionary<string, string?>
        {
            ["Agent:StateDirectory"] = stateDirectory,
            ["Agent:NodeId"] = "node-test",
            ["Metrics:Port"] = "0",
            ["Uplinks:Hub:Enabled"] = "false",
            ["Mqtt:EmbeddedPort"] = port.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(all);
        builder.Logging.AddConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddFractalSync(builder.Configuration);
        builder.Services.AddFractalInference(builder.Configuration);
        builder.Services.AddFractalPredictions();
        builder.Services.AddFractalLocalRetraining();
        var host = builder.Build();
        await host.StartAsync();

        var sensor = await ConnectAsync(port, "sensor");
        var consumer = await ConnectAsync(port, "consumer");
        var agent = new PredictingAgent(host, sensor, consumer);
        consumer.ApplicationMessageReceivedAsync += e =>
        {
            var stream = e.ApplicationMessage.Topic[PredictionMessage.TopicPrefix.Length..];
            using var json = JsonDocument.Parse(e.ApplicationMessage.Payload);
            agent.Predictions.GetOrAdd(stream, _ => new()).Enqueue(json.RootElement.Clone());
            return Task.CompletedTask;
        };
        await consumer.SubscribeAsync(PredictionMessage.TopicPrefix + "+", MqttQualityOfServiceLevel.AtMostOnce);
        return agent;
    }

    /// <summary>Publishes one float32 tensor reading with QoS 1 and returns the PUBACK's reason.</summary>
    public async Task<MqttClientPublishReasonCode> PublishAsync(string stream, float[] values, int? label = null, string? id = null)
    {
        var payload = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, payload, 0, payload.Length);
        var message = new MqttApplicationMessageBuilder()
            .WithTopic("fractal/sensors/" + stream)
            .WithPayload(payload)
            .WithContentType("application/x-fractal-tensor")
            .WithUserProperty("shape", Utf8(values.Length.ToString(CultureInfo.InvariantCulture)))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
        if (label is { } l)
        {
            message.WithUserProperty("label", Utf8(l.ToString(CultureInfo.InvariantCulture)));
        }

        if (id is not null)
        {
            message.WithUserProperty("id", Utf8(id));
        }

        var result = await _sensor.PublishAsync(message.Build());
        return result.ReasonCode;
    }

    /// <summary>Waits until <paramref name="stream"/> has <paramref name="count"/> predictions (the consumer is QoS 0 on loopback).</summary>
    public async Task<JsonElement[]> WaitForPredictionsAsync(string stream, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (Predictions.TryGetValue(stream, out var queue) && queue.Count >= count)
            {
                return [.. queue];
            }

            await Task.Delay(10);
        }

        throw new TimeoutException($"{stream}: {(Predictions.TryGetValue(stream, out var q) ? q.Count : 0)} of {count} predictions arrived");
    }

    public int PredictionCount(string stream) => Predictions.TryGetValue(stream, out var queue) ? queue.Count : 0;

    public async ValueTask DisposeAsync()
    {
        _sensor.Dispose();
        _consumer.Dispose();
        await _host.StopAsync();
        _host.Dispose();
    }

    private static ReadOnlyMemory<byte> Utf8(string value) => System.Text.Encoding.UTF8.GetBytes(value);

    private static async Task<IMqttClient> ConnectAsync(int port, string role)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithProtocolVersion(MqttProtocolVersion.V500).WithClientId(Unique.Name(role)).Build());
        return client;
    }
}
