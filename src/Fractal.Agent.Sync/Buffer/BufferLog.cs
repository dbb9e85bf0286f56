using Microsoft.Extensions.Logging;

namespace Fractal.Agent.Sync.Buffer;

internal static partial class BufferLog
{
    [LoggerMessage(1001, LogLevel.Information, "Buffer opened at {Path}: {Records} readings, {Bytes} bytes waiting for upload")]
    public static partial void Opened(ILogger logger, string path, long records, long bytes);

    [LoggerMessage(1002, LogLevel.Error, "Buffer commit of {Count} items failed; nothing in it was acknowledged")]
    public static partial void CommitFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(1003, LogLevel.Warning, "Quota full ({Bytes}/{Quota} bytes): holding back stream {Stream} (not acknowledging)")]
    public static partial void QuotaFullPushBack(ILogger logger, string stream, long bytes, long quota);

    [LoggerMessage(1004, LogLevel.Warning, "Gave up {Count} readings of stream {Stream} ({Reason}); recorded in the loss ledger")]
    public static partial void Lost(ILogger logger, int count, string stream, string reason);

    [LoggerMessage(1005, LogLevel.Information, "Buffer file rebuilt: {Before} -> {After} bytes ({Reclaimed} reclaimed)")]
    public static partial void Reclaimed(ILogger logger, long before, long after, long reclaimed);

    [LoggerMessage(1007, LogLevel.Critical, "Buffer writer failed; stopping the agent so it restarts")]
    public static partial void WriterFailed(ILogger logger, Exception exception);

    [LoggerMessage(1006, LogLevel.Error, "Buffer housekeeping failed")]
    public static partial void MaintenanceFailed(ILogger logger, Exception exception);
}
