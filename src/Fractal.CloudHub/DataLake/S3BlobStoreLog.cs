using Microsoft.Extensions.Logging;

namespace Fractal.CloudHub.DataLake;

internal static partial class S3BlobStoreLog
{
    [LoggerMessage(1, LogLevel.Information, "Bucket {Bucket} did not exist; created it")]
    public static partial void BucketCreated(ILogger logger, string bucket);

    [LoggerMessage(2, LogLevel.Debug, "Wrote s3://{Bucket}/{Key} ({Bytes} bytes)")]
    public static partial void ObjectWritten(ILogger logger, string bucket, string key, int bytes);
}
