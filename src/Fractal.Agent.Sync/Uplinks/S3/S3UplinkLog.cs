using Microsoft.Extensions.Logging;

namespace Fractal.Agent.Sync.Uplinks.S3;

internal static partial class S3UplinkLog
{
    [LoggerMessage(1, LogLevel.Debug, "Uploaded {Count} records of stream {Stream} to s3://{Bucket}/{Key} ({Bytes} bytes)")]
    public static partial void BatchUploaded(ILogger logger, int count, string stream, string bucket, string key, long bytes);

    [LoggerMessage(2, LogLevel.Debug, "Uploaded {Count} loss-ledger entries to s3://{Bucket}/{Key}")]
    public static partial void LossesUploaded(ILogger logger, int count, string bucket, string key);

    [LoggerMessage(3, LogLevel.Information, "Bucket {Bucket} did not exist; created it")]
    public static partial void BucketCreated(ILogger logger, string bucket);
}
