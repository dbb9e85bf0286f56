using System.ComponentModel.DataAnnotations;

namespace Fractal.Agent.Sync.Uplinks.Kafka;

/// <summary>
/// The Kafka uplink: an idempotent producer (acks=all) that writes buffered records to the hub's
/// records topic and loss-ledger entries to its losses topic.
/// </summary>
public sealed class KafkaUplinkOptions
{
    public const string SectionName = "Uplinks:Kafka";

    /// <summary>
    /// Comma-separated host:port list of Kafka brokers. Empty disables the Kafka uplink.
    /// <value>The default value is empty (disabled).</value>
    /// </summary>
    public string BootstrapServers { get; set; } = string.Empty;

    /// <summary>
    /// Topic of sensor records: key <c>{node}/{stream}</c>, value a protobuf SensorRecord.
    /// <value>The default value is <c>fractal.records</c>.</value>
    /// </summary>
    [Required]
    [RegularExpression(TopicPattern)]
    public string RecordsTopic { get; set; } = "fractal.records";

    /// <summary>
    /// Topic of loss reports: key <c>{node}</c>, value a protobuf LossReport.
    /// <value>The default value is <c>fractal.losses</c>.</value>
    /// </summary>
    [Required]
    [RegularExpression(TopicPattern)]
    public string LossesTopic { get; set; } = "fractal.losses";

    /// <summary>
    /// How long the producer waits to fill a protocol batch (librdkafka <c>linger.ms</c>).
    /// <value>The default value is 5 milliseconds.</value>
    /// </summary>
    [TimeSpanRange("00:00:00", "00:00:10")]
    public TimeSpan Linger { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// Largest protocol batch per partition in bytes (librdkafka <c>batch.size</c>).
    /// <value>The default value is 1000000.</value>
    /// </summary>
    [Range(1024, 100_000_000)]
    public int BatchSizeBytes { get; set; } = 1_000_000;

    /// <summary>
    /// Compression of protocol batches: <c>Lz4</c> (cheap on edge CPUs) or <c>Zstd</c> (smaller on
    /// metered links).
    /// <value>The default value is <see cref="KafkaUplinkCompression.Lz4"/>.</value>
    /// </summary>
    [EnumDataType(typeof(KafkaUplinkCompression))]
    public KafkaUplinkCompression Compression { get; set; } = KafkaUplinkCompression.Lz4;

    /// <summary>
    /// Longest a record may wait for its acknowledgement, retries included (librdkafka
    /// <c>message.timeout.ms</c>); a batch call fails after at most this long.
    /// <value>The default value is 30 seconds.</value>
    /// </summary>
    [TimeSpanRange("00:00:00.100", "01:00:00")]
    public TimeSpan MessageTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Upper bound of the exponential reconnect backoff (librdkafka <c>reconnect.backoff.max.ms</c>).
    /// <value>The default value is 10 seconds.</value>
    /// </summary>
    [TimeSpanRange("00:00:00.010", "00:10:00")]
    public TimeSpan ReconnectBackoffMax { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long shutdown waits for queued messages to be acknowledged. Whatever is left is sent
    /// again after restart, because the buffer checkpoint did not advance.
    /// <value>The default value is 5 seconds.</value>
    /// </summary>
    [TimeSpanRange("00:00:00", "00:05:00")]
    public TimeSpan ShutdownFlushTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Further librdkafka producer properties (TLS, SASL, client.id, ...), e.g.
    /// <c>Uplinks:Kafka:Properties:security.protocol</c>. The delivery guarantees
    /// (<c>enable.idempotence</c>, <c>acks</c>) and the settings above cannot be overridden here.
    /// <value>The default value is empty.</value>
    /// </summary>
    public Dictionary<string, string> Properties { get; } = new(StringComparer.Ordinal);

    /// <summary>Whether the uplink is configured (<see cref="BootstrapServers"/> is not empty).</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(BootstrapServers);

    internal const string TopicPattern = "^[a-zA-Z0-9._-]{1,249}$";
}

/// <summary>Compression codec of the Kafka uplink's protocol batches.</summary>
public enum KafkaUplinkCompression
{
    /// <summary>LZ4: fast, modest ratio.</summary>
    Lz4,

    /// <summary>Zstandard: better ratio, more CPU.</summary>
    Zstd,
}
