using System.ComponentModel.DataAnnotations;

namespace Fractal.Agent.Sync.Buffer;

/// <summary>The durable buffer: where it lives, how much disk it may take, how it commits.</summary>
public sealed class BufferOptions
{
    public const string SectionName = "Buffer";

    /// <summary>
    /// Buffer file name, relative to the agent's state directory unless absolute.
    /// <value>The default value is <c>buffer.db</c>.</value>
    /// </summary>
    [Required]
    public string File { get; set; } = "buffer.db";

    /// <summary>
    /// Global quota on buffered record bytes (payload plus per-record overhead), across streams.
    /// <value>The default value is 256 MiB.</value>
    /// </summary>
    [Range(64 * 1024, long.MaxValue)]
    public long QuotaBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// Most appends committed in one transaction (group commit).
    /// <value>The default value is 2000.</value>
    /// </summary>
    [Range(1, 100_000)]
    public int MaxGroupCommit { get; set; } = 2000;

    /// <summary>
    /// How long the writer may let a group fill before committing it, under load. Whether it
    /// waits is decided as it goes: it compares groups committed with and without the wait and
    /// waits only while that gives clearly larger groups at no loss of rate (readings that keep
    /// arriving from a broker's window), not when every sender is already waiting for its
    /// acknowledgement. A lone reading is always committed at once. 0 never waits.
    /// <value>The default value is 2 milliseconds.</value>
    /// </summary>
    [TimeSpanRange("00:00:00", "00:00:00.100")]
    public TimeSpan GroupCommitDelay { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// Whether each group commit is flushed to the device (fsync) before acknowledgements go out.
    /// Off only for benchmarks of the storage limit; an acknowledged message must survive power loss.
    /// <value>The default value is <see langword="true"/>.</value>
    /// </summary>
    public bool FlushToDevice { get; set; } = true;

    /// <summary>
    /// How many source message ids per stream are remembered to drop redelivered messages.
    /// Redeliveries come from the sender's or broker's in-flight window (hundreds), so a few
    /// thousand is ample; each id costs about 80 bytes of disk outside the quota and about 100
    /// bytes of memory (the window is kept in memory for the lookups).
    /// <value>The default value is 20000.</value>
    /// </summary>
    [Range(0, 1_000_000)]
    public int DedupeWindow { get; set; } = 20_000;

    /// <summary>
    /// Interval of housekeeping: deleting drained records, expiring TTLs, giving disk space back.
    /// <value>The default value is 5 seconds.</value>
    /// </summary>
    [TimeSpanRange("00:00:00.010", "01:00:00")]
    public TimeSpan MaintenanceInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The file is rebuilt (shrunk) when it is larger than this and at least twice the live data.
    /// <value>The default value is 8 MiB.</value>
    /// </summary>
    [Range(0, long.MaxValue)]
    public long ReclaimThresholdBytes { get; set; } = 8L * 1024 * 1024;

    /// <summary>
    /// Dead letters kept (oldest dropped first); each keeps at most 4 KiB of the payload.
    /// <value>The default value is 10000.</value>
    /// </summary>
    [Range(1, 1_000_000)]
    public int DeadLetterCapacity { get; set; } = 10_000;
}
