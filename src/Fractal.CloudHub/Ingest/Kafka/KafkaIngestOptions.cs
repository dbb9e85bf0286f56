using System.ComponentModel.DataAnnotations;

namespace Fractal.CloudHub.Ingest.Kafka;

/// <summary>
/// Kafka ingestion: a consumer group that reads the agents' records and loss reports and writes
/// them into the data lake, committing offsets only after the lake has them.
/// </summary>
public sealed class KafkaIngestOptions
{
    public const string SectionName = "Ingest:Kafka";

    /// <summary>
    /// Comma-separated host:port list of Kafka brokers. Empty disables Kafka ingestion.
    /// <value>The default value is empty (disabled).</value>
    /// </summary>
    public string BootstrapServers { get; set; } = string.Empty;

    /// <summary>
    /// Consumer group of the hub instances; partitions are shared among them.
    /// <value>The default value is <c>fractal-hub</c>.</value>
    /// </summary>
    [Required]
    [RegularExpression("^[a-zA-Z0-9._-]{1,249}$")]
    public string GroupId { get; set; } = "fractal-hub";

    /// <summary>
    /// Topic of sensor records (key <c>{node}/{stream}</c>, value SensorRecord).
    /// <value>The default value is <c>fractal.records</c>.</value>
    /// </summary>
    [Required]
    [RegularExpression(TopicPattern)]
    public string RecordsTopic { get; set; } = "fractal.records";

    /// <summary>
    /// Topic of loss reports (key <c>{node}</c>, value LossReport).
    /// <value>The default value is <c>fractal.losses</c>.</value>
    /// </summary>
    [Required]
    [RegularExpression(TopicPattern)]
    public string LossesTopic { get; set; } = "fractal.losses";

    /// <summary>
    /// Most messages read before they are written to the lake and committed.
    /// <value>The default value is 1000.</value>
    /// </summary>
    [Range(1, 100_000)]
    public int MaxBatchMessages { get; set; } = 1000;

    /// <summary>
    /// Longest the consumer keeps reading after the first message of a batch before it writes.
    /// <value>The default value is 200 milliseconds.</value>
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan MaxBatchDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Wait before messages are read again after the lake refused a write (nothing was committed).
    /// <value>The default value is 2 seconds.</value>
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Further librdkafka consumer properties (TLS, SASL, session.timeout.ms, ...), e.g.
    /// <c>Ingest:Kafka:Properties:security.protocol</c>. Commit behaviour cannot be overridden.
    /// <value>The default value is empty.</value>
    /// </summary>
    public Dictionary<string, string> Properties { get; } = new(StringComparer.Ordinal);

    /// <summary>Whether Kafka ingestion runs (<see cref="BootstrapServers"/> is not empty).</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(BootstrapServers);

    private const string TopicPattern = "^[a-zA-Z0-9._-]{1,249}$";
}
