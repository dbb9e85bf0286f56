using Microsoft.Extensions.Logging;

namespace Fractal.CloudHub.DataLake;

internal static partial class DataLakeLog
{
    [LoggerMessage(1, LogLevel.Debug, "Wrote {Count} records to {Key}")]
    public static partial void RecordsWritten(ILogger logger, int count, string key);

    [LoggerMessage(2, LogLevel.Information, "Dropped {Count} duplicate records of node {NodeId} stream {Stream} (high-water mark {Mark})")]
    public static partial void DuplicatesDropped(ILogger logger, int count, string nodeId, string stream, ulong mark);

    [LoggerMessage(3, LogLevel.Debug, "High-water mark of node {NodeId} stream {Stream} derived from the lake: {Mark}")]
    public static partial void HighWaterMarkLoaded(ILogger logger, string nodeId, string stream, ulong mark);

    [LoggerMessage(4, LogLevel.Warning, "Ignoring unrecognized object {Key} in the lake")]
    public static partial void UnrecognizedKeyIgnored(ILogger logger, string key);

    [LoggerMessage(5, LogLevel.Information, "Recorded {Count} loss-ledger entries of node {NodeId} in {Key}")]
    public static partial void LossesRecorded(ILogger logger, int count, string nodeId, string key);

    [LoggerMessage(6, LogLevel.Warning, "Removing temporary file {Path} left by an interrupted write")]
    public static partial void StaleTemporaryFileRemoved(ILogger logger, string path);
}
