using Microsoft.Extensions.Logging;

namespace Fractal.CloudHub.Hosting;

internal static partial class HubLog
{
    [LoggerMessage(201, LogLevel.Information, "Hub listening on {GrpcAddress} (gRPC, HTTP/2 cleartext); REST and metrics over HTTP/1.1 on {HttpAddress}")]
    public static partial void Listening(ILogger logger, Uri grpcAddress, Uri? httpAddress);
}
