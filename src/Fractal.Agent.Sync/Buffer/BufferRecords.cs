namespace Fractal.Agent.Sync.Buffer;

/// <summary>A validated reading on its way into the buffer.</summary>
/// <param name="Stream">Stream name (validated, configured).</param>
/// <param name="Shape">Tensor shape; product equals <c>Values.Length / 4</c>.</param>
/// <param name="Values">float32 little-endian values.</param>
/// <param name="Label">Class label, when the sensor supplied one.</param>
/// <param name="SourceId">The sensor's own message id, used to drop redeliveries; optional.</param>
public sealed record AppendRequest(string Stream, int[] Shape, byte[] Values, int? Label, string? SourceId);

/// <summary>What became of an append. Every outcome is durable when it is reported.</summary>
public enum AppendStatus
{
    /// <summary>Stored under <see cref="AppendOutcome.Sequence"/>, waiting for upload.</summary>
    Stored,

    /// <summary>The source id was seen recently: the message is a redelivery and was dropped.</summary>
    Duplicate,

    /// <summary>Not for upload under the stream's policy (it may have gone to the training reservoir).</summary>
    NotUploaded,

    /// <summary>The quota was full and this reading was the lowest-priority data: recorded in the loss ledger.</summary>
    EvictedOnArrival,
}

/// <summary>Outcome of <see cref="DurableBuffer.AppendAsync"/>.</summary>
public readonly record struct AppendOutcome(AppendStatus Status, ulong Sequence);

/// <summary>A record read back from the buffer for upload.</summary>
public sealed record BufferedRecord(ulong Sequence, long TimestampUnixMs, int[] Shape, byte[] Values, int? Label, int Priority)
{
    /// <summary>Bytes this record counts against the quota (payload plus a fixed overhead).</summary>
    public long QuotaBytes => BufferAccounting.QuotaBytes(Values.Length, Shape.Length);
}

/// <summary>One loss-ledger entry: sequences of one stream the node gave up, and why.</summary>
public sealed record LossLedgerEntry(ulong LedgerId, string Stream, IReadOnlyList<ulong> Sequences, string Reason, long LostAtUnixMs, long Bytes);

/// <summary>A message that could not be accepted, kept with its reason.</summary>
public sealed record DeadLetter(string Topic, string Reason, ReadOnlyMemory<byte> Payload);

/// <summary>A labeled sample kept on the node for local training.</summary>
public sealed record TrainingSample(int[] Shape, byte[] Values, int Label);

/// <summary>Point-in-time figures of the buffer.</summary>
public sealed record BufferStats(long BufferedBytes, long BufferedRecords, long FileBytes, long QuotaBytes, int BlockedAppends);

internal static class BufferAccounting
{
    /// <summary>Per-record bookkeeping (document header, keys, timestamps) charged against the quota.</summary>
    public const int RecordOverheadBytes = 64;

    /// <summary>Bytes a reading counts against the quota: its values, its shape and the fixed overhead.</summary>
    public static long QuotaBytes(int valueBytes, int rank) => valueBytes + RecordOverheadBytes + (rank * 4);

    public const string ReasonEvicted = "evicted";
    public const string ReasonExpired = "expired";
}
