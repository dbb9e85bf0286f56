using System.ComponentModel.DataAnnotations;

namespace Fractal.Agent.Sync.Mqtt;

/// <summary>How sensors reach the agent: an existing broker it subscribes to, or its own embedded server.</summary>
public sealed class MqttIngestOptions
{
    public const string SectionName = "Mqtt";

    /// <summary>
    /// Host of an existing broker (mosquitto) to subscribe to. Empty: run the embedded MQTT server.
    /// <value>The default value is empty.</value>
    /// </summary>
    public string BrokerHost { get; set; } = string.Empty;

    /// <summary><value>The default value is 1883.</value></summary>
    [Range(1, 65535)]
    public int BrokerPort { get; set; } = 1883;

    /// <summary>Client id of the persistent session at the broker. <value>The default value is empty: <c>fractal-agent-{nodeId}</c>.</value></summary>
    public string ClientId { get; set; } = string.Empty;

    /// <summary><value>The default value is empty (anonymous).</value></summary>
    public string Username { get; set; } = string.Empty;

    /// <summary><value>The default value is empty.</value></summary>
    public string Password { get; set; } = string.Empty;

    /// <summary>
    /// Unacknowledged messages the broker may have in flight to the agent (MQTT 5 Receive
    /// Maximum): the group-commit window. The broker's own limit (mosquitto's
    /// max_inflight_messages) must be at least as large for it to take effect.
    /// <value>The default value is 1000.</value>
    /// </summary>
    [Range(1, 65535)]
    public int ReceiveMaximum { get; set; } = 1000;

    /// <summary>
    /// Kernel send and receive buffer of the broker connection (SO_SNDBUF, SO_RCVBUF; Linux
    /// doubles the value and caps it at net.core.rmem_max / wmem_max). MQTTnet's own default, 8 KiB,
    /// fixes the TCP window at a few dozen readings: whenever the agent paused for a millisecond
    /// the broker stopped sending. The default holds a full Receive Maximum of typical readings.
    /// <value>The default value is 262144 (256 KiB).</value>
    /// </summary>
    [Range(4096, 16 * 1024 * 1024)]
    public int SocketBufferBytes { get; set; } = 256 * 1024;

    /// <summary>
    /// While the broker streams faster than a few packets per this interval, wait this long
    /// before each socket receive, so that one receive (and one wake-up) takes many PUBLISHes
    /// instead of one or two; a quieter connection is read at once. It adds at most this much to
    /// a message's way to the buffer. On a 2-vCPU node, with <see cref="SocketBufferBytes"/> large
    /// enough to hold what arrives meanwhile, 1 ms took less CPU per message in 13 of 16 measured
    /// runs and gave a higher rate in 11 (docs/benchmarks.md, "The socket buffer"). 0: read at once.
    /// <value>The default value is 1 ms.</value>
    /// </summary>
    [TimeSpanRange("00:00:00", "00:00:00.050")]
    public TimeSpan ReadCoalescing { get; set; } = TimeSpan.FromMilliseconds(1);

    /// <summary>Address the embedded server listens on. <value>The default value is <c>127.0.0.1</c>.</value></summary>
    [Required]
    public string EmbeddedBindAddress { get; set; } = "127.0.0.1";

    /// <summary><value>The default value is 1883.</value></summary>
    [Range(1, 65535)]
    public int EmbeddedPort { get; set; } = 1883;

    /// <summary>Whether the embedded server uses <see cref="BrokerHost"/> being empty.</summary>
    public bool UsesEmbeddedServer => string.IsNullOrWhiteSpace(BrokerHost);
}
