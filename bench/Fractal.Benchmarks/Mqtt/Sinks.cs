using System.Globalization;
using Fractal.Agent.Sync;
using Fractal.Agent.Sync.Ingest;
using Fractal.Agent.Sync.Metrics;
using Fractal.Agent.Sync.Mqtt;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Fractal.Benchmarks.Mqtt;

/// <summary>Where the broker delivers the measured stream: the agent, or a subscriber that does nothing.</summary>
internal abstract class Sink(string clientId) : IAsyncDisposable
{
    /// <summary>Readings of the measured stream (<see cref="MqttBenchmark.MeasuredTopic"/>), counted once committed or received.</summary>
    public Countdown Measured { get; } = new();

    /// <summary>Readings of the warm-up stream.</summary>
    public Countdown WarmUp { get; } = new();

    public string ClientId { get; } = clientId;

    /// <summary>Something to say about the run (group commits of the agent).</summary>
    public virtual string Diagnostics => string.Empty;

    /// <summary>The measured part starts now (after the warm-up stream).</summary>
    public virtual void MarkStart()
    {
    }

    public abstract ValueTask DisposeAsync();

    /// <summary>The agent's configuration for a benchmark run against the broker, plus <paramref name="extra"/> (which wins).</summary>
    protected static Dictionary<string, string> AgentSettings(string host, int port, int receiveMaximum, string stateDirectory, string clientId, IReadOnlyDictionary<string, string>? extra)
    {
        var settings = new Dictionary<string, string>
        {
            ["Agent:StateDirectory"] = stateDirectory,
            ["Agent:NodeId"] = "bench-node",
            ["Uplinks:Hub:Enabled"] = "false",
            ["Mqtt:BrokerHost"] = host,
            ["Mqtt:BrokerPort"] = port.ToString(CultureInfo.InvariantCulture),
            ["Mqtt:ClientId"] = clientId,
            ["Mqtt:ReceiveMaximum"] = receiveMaximum.ToString(CultureInfo.InvariantCulture),
            [$"Streams:{Readings.Stream}:Priority"] = "0",
            ["Streams:warmup:Priority"] = "0",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        return settings;
    }

    protected static string GroupCommitText(double commits, long readings)
        => string.Create(CultureInfo.InvariantCulture, $"{commits:N0} group commits, {readings / Math.Max(1, commits):N1} readings per commit");
}

/// <summary>The broker limit: a plain MQTTnet subscriber with the agent's session settings that does nothing (auto-ack).</summary>
internal sealed class PlainSubscriber : Sink
{
    private readonly IMqttClient _client;

    private PlainSubscriber(IMqttClient client, string clientId)
        : base(clientId)
    {
        _client = client;
    }

    /// <param name="socketBufferBytes">The connection's kernel buffers, as the agent's <c>Mqtt:SocketBufferBytes</c>.</param>
    public static async Task<PlainSubscriber> StartAsync(string host, int port, int receiveMaximum, int socketBufferBytes)
    {
        var clientId = $"bench-plain-{Guid.NewGuid():N}";
        var client = new MqttClientFactory().CreateMqttClient();
        var sink = new PlainSubscriber(client, clientId);
        client.ApplicationMessageReceivedAsync += e =>
        {
            (e.ApplicationMessage.Topic == MqttBenchmark.MeasuredTopic ? sink.Measured : sink.WarmUp).Signal();
            return Task.CompletedTask;
        };
        // The agent's own session settings, so that only what the subscriber does differs.
        var options = BrokerMqttIngest.ClientOptions(
            new MqttIngestOptions { BrokerHost = host, BrokerPort = port, ClientId = clientId, ReceiveMaximum = receiveMaximum, SocketBufferBytes = socketBufferBytes },
            nodeId: string.Empty);
        await client.ConnectAsync(options);
        await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(IngestMessage.TopicFilter, MqttQualityOfServiceLevel.AtLeastOnce).Build());
        return sink;
    }

    public override async ValueTask DisposeAsync()
    {
        await _client.DisconnectAsync();
        _client.Dispose();
    }
}

/// <summary>The agent's data path (BrokerMqttIngest → IngestPipeline → DurableBuffer) in a generic host, as the daemon composes it.</summary>
internal sealed class AgentSubscriber : Sink
{
    private readonly IHost _host;

    private AgentSubscriber(IHost host, string clientId)
        : base(clientId)
    {
        _host = host;
    }

    public override string Diagnostics
        => GroupCommitText(_host.Services.GetRequiredService<SyncMetrics>().GroupCommits.Value, Measured.Count + WarmUp.Count);

    public static async Task<AgentSubscriber> StartAsync(string host, int port, int receiveMaximum, string stateDirectory, IReadOnlyDictionary<string, string>? extra = null)
    {
        var clientId = $"bench-agent-{Guid.NewGuid():N}";
        // Metrics off: nothing scrapes the in-process agent.
        var settings = AgentSettings(host, port, receiveMaximum, stateDirectory, clientId, extra);
        settings.TryAdd("Metrics:Port", "0");

        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings.Select(kv => KeyValuePair.Create(kv.Key, (string?)kv.Value)));
        builder.Logging.AddConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddFractalSync(builder.Configuration);
        var app = builder.Build();
        var sink = new AgentSubscriber(app, clientId);
        // Raised after the reading is durably committed; the PUBACK follows it.
        app.Services.GetRequiredService<IngestPipeline>().Accepted += request =>
            (request.Stream == Readings.Stream ? sink.Measured : sink.WarmUp).Signal();
        await app.StartAsync();
        return sink;
    }

    public override async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
