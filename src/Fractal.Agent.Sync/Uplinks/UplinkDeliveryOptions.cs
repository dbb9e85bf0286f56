using System.ComponentModel.DataAnnotations;

namespace Fractal.Agent.Sync.Uplinks;

/// <summary>
/// Batching and resilience of one uplink, read from <c>Uplinks:{Name}</c> beside the
/// transport's own settings (each uplink has its own pipeline: a slow S3 never holds back the hub).
/// </summary>
public sealed class UplinkDeliveryOptions
{
    public const string SectionPrefix = "Uplinks";

    /// <summary><value>The default value is <see langword="true"/> for the hub, <see langword="false"/> for Kafka and S3.</value></summary>
    public bool? Enabled { get; set; }

    /// <summary>Most readings per batch. <value>The default value is 500.</value></summary>
    [Range(1, 100_000)]
    public int BatchMaxRecords { get; set; } = 500;

    /// <summary>Most bytes per batch (quota accounting). <value>The default value is 1 MiB.</value></summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int BatchMaxBytes { get; set; } = 1024 * 1024;

    /// <summary>Time limit of one delivery attempt. <value>The default value is 15 seconds.</value></summary>
    [TimeSpanRange("00:00:00.100", "00:10:00")]
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>First retry delay (exponential backoff with jitter). <value>The default value is 200 ms.</value></summary>
    [TimeSpanRange("00:00:00.001", "00:10:00")]
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest retry delay. <value>The default value is 30 seconds.</value></summary>
    [TimeSpanRange("00:00:00.001", "01:00:00")]
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the circuit stays open after repeated failures. <value>The default value is 10 seconds.</value></summary>
    [TimeSpanRange("00:00:00.500", "01:00:00")]
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often an idle uplink looks for new data without a commit signal. <value>The default value is 1 second.</value></summary>
    [TimeSpanRange("00:00:00.010", "00:10:00")]
    public TimeSpan IdlePollInterval { get; set; } = TimeSpan.FromSeconds(1);
}
