using System.ComponentModel.DataAnnotations;

namespace Fractal.Agent.Sync.Buffer;

/// <summary>What the buffer does for a stream when the global quota is full.</summary>
public enum FullQuotaPolicy
{
    /// <summary>Stop acknowledging: the sensor (or broker) holds the data until space frees.</summary>
    PushBack,

    /// <summary>Evict the oldest, lowest-priority evictable data; every eviction goes to the loss ledger.</summary>
    EvictOldest,
}

/// <summary>Which of a stream's readings leave the node (ARCHITECTURE.md, the three learning approaches).</summary>
public enum UploadPolicy
{
    /// <summary>Centralized learning: every reading is uploaded.</summary>
    All,

    /// <summary>Distributed or federated learning: raw data never leaves the node.</summary>
    None,

    /// <summary>A deterministic fraction (<see cref="StreamPolicy.SampleFraction"/>) is uploaded.</summary>
    Sampled,
}

/// <summary>Per-stream data policy, configured under <c>Streams:{name}</c>.</summary>
public sealed class StreamPolicy
{
    /// <summary>Higher priority survives eviction longer. <value>The default value is 0.</value></summary>
    [Range(-1000, 1000)]
    public int Priority { get; set; }

    /// <summary>How long a reading may wait for upload; zero means forever. <value>The default value is zero.</value></summary>
    [TimeSpanRange("00:00:00", "3650.00:00:00")]
    public TimeSpan TimeToLive { get; set; } = TimeSpan.Zero;

    /// <summary><value>The default value is <see cref="FullQuotaPolicy.PushBack"/>.</value></summary>
    public FullQuotaPolicy WhenFull { get; set; } = FullQuotaPolicy.PushBack;

    /// <summary><value>The default value is <see cref="UploadPolicy.All"/>.</value></summary>
    public UploadPolicy Upload { get; set; } = UploadPolicy.All;

    /// <summary>Fraction uploaded under <see cref="UploadPolicy.Sampled"/>. <value>The default value is 0.1.</value></summary>
    [Range(0.0, 1.0)]
    public double SampleFraction { get; set; } = 0.1;

    /// <summary>Labeled readings kept on the node for local training (reservoir sample); zero disables. <value>The default value is 0.</value></summary>
    [Range(0, 1_000_000)]
    public int TrainingReservoir { get; set; }

    /// <summary>
    /// Run the node's active model on each accepted reading and publish the result to
    /// <c>fractal/predictions/{stream}</c>. <value>The default value is false.</value>
    /// </summary>
    public bool Inference { get; set; }

    /// <summary>
    /// Distributed learning: the node retrains its active model on this stream's training
    /// reservoir (needs <see cref="TrainingReservoir"/>) every <c>Inference:LocalTrainingInterval</c>
    /// and keeps the result, on the node only, when it scores better on held-out samples.
    /// <value>The default value is false.</value>
    /// </summary>
    public bool RetrainLocally { get; set; }

    /// <summary>Expected tensor shape, e.g. [28, 28]; empty accepts any shape. <value>The default value is empty.</value></summary>
    public int[] Shape { get; set; } = [];

    /// <summary>Largest accepted payload. <value>The default value is 1 MiB.</value></summary>
    [Range(1, 64 * 1024 * 1024)]
    public int MaxPayloadBytes { get; set; } = 1024 * 1024;
}
