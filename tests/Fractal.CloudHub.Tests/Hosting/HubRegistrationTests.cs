using Fractal.CloudHub.DataLake;
using Fractal.CloudHub.Ingest;
using Fractal.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Fractal.CloudHub.Tests.Hosting;

public sealed class HubRegistrationTests
{
    private static ServiceProvider Build(Dictionary<string, string?> settings, Action<IServiceCollection>? before = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        before?.Invoke(services);
        services.AddFractalHub(configuration);
        return services.BuildServiceProvider();
    }

    [Fact]
    public void AddFractalHub_Defaults_LocalStoreUnderRootAndOneLakeForWriterAndReader()
    {
        using var dir = new TestDirectory("di");
        using var provider = Build(new() { ["DataLake:Root"] = dir.Combine("lake") });

        var store = Assert.IsType<LocalDirectoryBlobStore>(provider.GetRequiredService<IBlobStore>());
        Assert.Equal(dir.Combine("lake"), store.Root);
        Assert.Same(provider.GetRequiredService<IDataLake>(), provider.GetRequiredService<ILakeReader>());
        Assert.Equal(16 * 1024 * 1024, provider.GetRequiredService<IOptions<IngestOptions>>().Value.MaxMessageBytes);
        Assert.Equal(16 * 1024 * 1024, provider.GetRequiredService<IOptions<Grpc.AspNetCore.Server.GrpcServiceOptions>>().Value.MaxReceiveMessageSize);
    }

    [Fact]
    public void AddFractalHub_BackendS3_LakeWritesThroughS3BlobStore()
    {
        using var provider = Build(new()
        {
            ["DataLake:Backend"] = "s3",
            ["DataLake:S3:Bucket"] = "fractal-lake",
            ["DataLake:S3:ServiceUrl"] = "http://127.0.0.1:9",
            ["DataLake:S3:AccessKey"] = "test",
            ["DataLake:S3:SecretKey"] = "test",
        });

        Assert.IsType<S3BlobStore>(provider.GetRequiredService<IBlobStore>());
    }

    [Fact]
    public void AddFractalHub_BlobStoreRegisteredFirst_KeepsIt()
    {
        using var dir = new TestDirectory("di");
        var mine = new LocalDirectoryBlobStore(dir.Combine("mine"), Microsoft.Extensions.Logging.Abstractions.NullLogger<LocalDirectoryBlobStore>.Instance);

        using var provider = Build(new(), services => services.AddSingleton<IBlobStore>(mine));

        Assert.Same(mine, provider.GetRequiredService<IBlobStore>());
    }
}
