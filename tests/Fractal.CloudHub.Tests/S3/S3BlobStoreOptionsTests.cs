using Fractal.CloudHub.DataLake;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Fractal.CloudHub.Tests.S3;

/// <summary>Configuration and registration of the S3 blob store (no store needed).</summary>
public sealed class S3BlobStoreOptionsTests
{
    [Theory]
    [InlineData("Bad_Bucket")]
    [InlineData("x")]
    [InlineData("10.0.0.1")]
    public void AddS3BlobStore_InvalidBucket_FailsValidationNamingKeyAndValue(string bucket)
    {
        using var provider = Build(("DataLake:S3:Bucket", bucket));

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<S3BlobStoreOptions>>().Value);

        Assert.Contains($"DataLake:S3:Bucket = '{bucket}'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddS3BlobStore_MissingBucket_FailsValidationNamingKey()
    {
        using var provider = Build();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<S3BlobStoreOptions>>().Value);

        Assert.Contains("DataLake:S3:Bucket", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddS3BlobStore_ValidConfiguration_ResolvesS3BlobStoreAsIBlobStore()
    {
        using var provider = Build(("DataLake:S3:Bucket", "fractal-lake"), ("DataLake:S3:ServiceUrl", "http://127.0.0.1:1"),
            ("DataLake:S3:AccessKey", "a"), ("DataLake:S3:SecretKey", "b"));

        var store = provider.GetRequiredService<IBlobStore>();

        Assert.Equal("fractal-lake", Assert.IsType<S3BlobStore>(store).Bucket);
        Assert.Same(store, provider.GetRequiredService<S3BlobStore>());
    }

    private static ServiceProvider Build(params (string Key, string Value)[] values)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build();
        var services = new ServiceCollection();
        services.AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        services.AddSingleton(typeof(ILogger<>), typeof(NullLogger<>));
        services.AddS3BlobStore(configuration);
        return services.BuildServiceProvider();
    }
}
