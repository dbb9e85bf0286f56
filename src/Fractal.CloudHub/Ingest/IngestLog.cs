using Microsoft.Extensions.Logging;

namespace Fractal.CloudHub.Ingest;

internal static partial class IngestLog
{
    [LoggerMessage(101, LogLevel.Warning, "Rejected ingest request from {Peer}: {Reason}")]
    public static partial void BatchRejected(ILogger logger, string peer, string reason);

    [LoggerMessage(102, LogLevel.Error, "The data lake failed to store data of node {NodeId} stream {Stream}; the node will retry")]
    public static partial void LakeWriteFailed(ILogger logger, Exception exception, string nodeId, string stream);
}
