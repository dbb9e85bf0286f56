using Fractal.Agent.Sync.Uplinks;
using Fractal.Agent.Sync.Uplinks.S3;
using Fractal.Contracts.Ingest;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync.Tests.S3;

/// <summary>Configuration, registration and key naming of the S3 uplink (no store needed).</summary>
public sealed class S3UplinkOptionsTests
{
    [Theory]
    [InlineData("Bad_Bucket")]
    [InlineData("ab")]
    [InlineData("UPPER")]
    [InlineData("a..b")]
    [InlineData("192.168.1.1")]
    [InlineData("ends-with-dash-")]
    public void AddS3Uplink_InvalidBucket_FailsValidationNamingKeyAndValue(string bucket)
    {
        using var provider = Build(("Uplinks:S3:Bucket", bucket));

        var ex = Assert.Throws<ConfigurationValueException>(() => provider.GetRequiredService<IOptions<S3UplinkOptions>>().Value);

        Assert.Equal("Uplinks:S3:Bucket", ex.Key);
        Assert.Equal(bucket, ex.Value);
    }

    [Theory]
    [InlineData("/fractal")]
    [InlineData("fractal/")]
    [InlineData("a//b")]
    [InlineData("a b")]
    public void AddS3Uplink_InvalidPrefix_FailsValidationNamingKey(string prefix)
    {
        using var provider = Build(("Uplinks:S3:Bucket", "fractal-data"), ("Uplinks:S3:Prefix", prefix));

        var ex = Assert.Throws<ConfigurationValueException>(() => provider.GetRequiredService<IOptions<S3UplinkOptions>>().Value);

        Assert.Equal("Uplinks:S3:Prefix", ex.Key);
    }

    [Fact]
    public void AddS3Uplink_AccessKeyWithoutSecret_FailsValidation()
    {
        using var provider = Build(("Uplinks:S3:Bucket", "fractal-data"), ("Uplinks:S3:AccessKey", "AKIA"), ("Uplinks:S3:ServiceUrl", "ftp://x"));

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<S3UplinkOptions>>().Value);

        Assert.Contains("Uplinks:S3:SecretKey", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Uplinks:S3:ServiceUrl = 'ftp://x'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddS3Uplink_BucketSetAndCalledTwice_RegistersOneS3Transport()
    {
        var services = new ServiceCollection().AddLogging();
        var configuration = Configuration(("Uplinks:S3:Bucket", "fractal-data"), ("Uplinks:S3:ServiceUrl", "http://127.0.0.1:1"));
        services.AddS3Uplink(configuration).AddS3Uplink(configuration);
        using var provider = services.BuildServiceProvider();

        var transport = Assert.Single(provider.GetServices<IUplinkTransport>());

        Assert.Equal("s3", transport.Name);
        Assert.Equal("fractal", provider.GetRequiredService<IOptions<S3UplinkOptions>>().Value.Prefix);
    }

    [Fact]
    public void AddS3Uplink_NoBucket_RegistersNoTransport()
    {
        using var provider = Build();

        Assert.Empty(provider.GetServices<IUplinkTransport>());
        Assert.False(provider.GetRequiredService<IOptions<S3UplinkOptions>>().Value.Enabled);
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("..")]
    [InlineData("x=y")]
    [InlineData("")]
    public async Task SendBatchAsync_HostileStreamName_ThrowsBeforeAnyRequest(string stream)
    {
        // Port 1 refuses connections: reaching the network would fail differently.
        using var transport = new S3UplinkTransport(
            Options.Create(new S3UplinkOptions { ServiceUrl = "http://127.0.0.1:1", Bucket = "fractal-data", AccessKey = "a", SecretKey = "b" }),
            NullLogger<S3UplinkTransport>.Instance);
        var batch = S3TestData.Batch("node-a", "vibration", 1, 2);
        batch.Stream = stream;

        if (stream == "..")
        {
            // '..' is made of allowed characters and harmless inside "stream=..": it must not throw ArgumentException.
            Assert.Equal("p/records/stream=../node=node-a/date=2026-11-27/00000000000000000001-00000000000000000002.pb.gz",
                S3ObjectKeys.Records("p", batch, S3UplinkCompression.Gzip));
            return;
        }

        await Assert.ThrowsAsync<ArgumentException>(() => transport.SendBatchAsync(batch, CancellationToken.None));
    }

    [Fact]
    public async Task SendBatchAsync_UnorderedSequences_ThrowsArgumentException()
    {
        using var transport = new S3UplinkTransport(
            Options.Create(new S3UplinkOptions { ServiceUrl = "http://127.0.0.1:1", Bucket = "fractal-data", AccessKey = "a", SecretKey = "b" }),
            NullLogger<S3UplinkTransport>.Instance);
        var batch = new RecordBatch { NodeId = "n", Stream = "s" };
        batch.Records.Add(new SensorRecord { Sequence = 2 });
        batch.Records.Add(new SensorRecord { Sequence = 2 });

        await Assert.ThrowsAsync<ArgumentException>(() => transport.SendBatchAsync(batch, CancellationToken.None));
    }

    [Theory]
    [InlineData(long.MaxValue, "9999-12-31")]
    [InlineData(long.MinValue, "0001-01-01")]
    [InlineData(0L, "1970-01-01")]
    public void PartitionDate_OutOfRangeTimestamp_IsClampedInsteadOfThrowing(long timestamp, string expected)
    {
        Assert.Equal(expected, S3ObjectKeys.PartitionDate(timestamp));
    }

    private static ServiceProvider Build(params (string Key, string Value)[] values)
    {
        var services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddS3Uplink(Configuration(values));
        return services.BuildServiceProvider();
    }

    private static IConfiguration Configuration(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();
}
