using Amazon;
using Amazon.Runtime;
using Amazon.S3;

namespace Fractal.Agent.Sync.Uplinks.S3;

/// <summary>Builds the AWS SDK client with the settings every S3-compatible service accepts.</summary>
internal static class S3ClientFactory
{
    public static AmazonS3Client Create(S3UplinkOptions options)
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle,
            // AWSSDK v4 adds a CRC32 flexible checksum to every upload by default, sent as an
            // aws-chunked trailer. Swift 2.30 refuses aws-chunked bodies and ignores x-amz-checksum-*
            // headers, so checksums go only where an operation requires them; uploads carry
            // Content-MD5 instead, which S3 and Swift both verify before they store the object.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            Timeout = options.RequestTimeout,
            MaxErrorRetry = options.MaxErrorRetry,
        };
        if (options.ServiceUrl.Length > 0)
        {
            config.ServiceURL = options.ServiceUrl;
            config.AuthenticationRegion = options.Region;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }

        return options.AccessKey.Length > 0
            ? new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config)
            : new AmazonS3Client(config);
    }
}
