using Fractal.CloudHub.DataLake;
using Fractal.CloudHub.Hosting;
using Fractal.CloudHub.Ingest;
using Fractal.CloudHub.Ingest.Kafka;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fractal.CloudHub;

/// <summary>Registers the hub's services.</summary>
public static class HubServiceCollectionExtensions
{
    /// <summary>
    /// Adds the hub: options (validated on start), the blob store chosen by
    /// <c>DataLake:Backend</c> (<see cref="LocalDirectoryBlobStore"/>, or <see cref="S3BlobStore"/>
    /// through <see cref="S3BlobStoreServiceCollectionExtensions.AddS3BlobStore"/>), the Parquet
    /// data lake (as <see cref="IDataLake"/> and <see cref="ILakeReader"/>), gRPC ingest, health
    /// checks and the Kestrel endpoints of <see cref="HubOptions"/>. Everything is registered with TryAdd*, so a caller may register
    /// its own implementation first (e.g. another <see cref="IBlobStore"/>).
    /// </summary>
    public static IServiceCollection AddFractalHub(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddValidatedOptions<HubOptions>(configuration, HubOptions.SectionName);
        services.AddValidatedOptions<DataLakeOptions>(configuration, DataLakeOptions.SectionName);
        services.AddValidatedOptions<IngestOptions>(configuration, IngestOptions.SectionName);

        if (DataLakeOptions.SelectsS3(configuration))
        {
            // Registers S3BlobStore as the IBlobStore (TryAdd) and validates DataLake:S3 on start;
            // not registered for the local backend, whose hubs have no bucket to validate.
            services.AddS3BlobStore(configuration);
        }

        services.TryAddSingleton<IBlobStore>(CreateBlobStore);
        services.TryAddSingleton<ParquetDataLake>();
        services.TryAddSingleton<IDataLake>(sp => sp.GetRequiredService<ParquetDataLake>());
        services.TryAddSingleton<ILakeReader>(sp => sp.GetRequiredService<ParquetDataLake>());

        services.AddGrpc();
        services.AddOptions<GrpcServiceOptions>()
            .Configure<IOptions<IngestOptions>>((grpc, ingest) => grpc.MaxReceiveMessageSize = ingest.Value.MaxMessageBytes);
        services.AddHealthChecks();

        // Kafka ingest runs only when Ingest:Kafka:BootstrapServers is set; it writes through
        // the same IDataLake as gRPC ingest, so duplicates are removed in one place.
        services.AddKafkaIngest(configuration);

        services.TryAddSingleton<HubEndpoints>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<KestrelServerOptions>, HubKestrelSetup>());
        return services;
    }

    private static void AddValidatedOptions<TOptions>(this IServiceCollection services, IConfiguration configuration, string sectionName)
        where TOptions : class
    {
        services.AddOptions<TOptions>().Bind(configuration.GetSection(sectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>>(new SectionValidator<TOptions>(sectionName)));
    }

    private static IBlobStore CreateBlobStore(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<DataLakeOptions>>().Value;
        return options.Backend switch
        {
            DataLakeOptions.LocalBackend => new LocalDirectoryBlobStore(options.Root, services.GetRequiredService<ILogger<LocalDirectoryBlobStore>>()),

            // Reached only if the backend was switched to s3 after AddFractalHub read the configuration.
            _ => throw new OptionsValidationException(
                DataLakeOptions.SectionName,
                typeof(DataLakeOptions),
                [$"{DataLakeOptions.SectionName}:{nameof(DataLakeOptions.Backend)} = '{options.Backend}': no blob store is registered for this backend"]),
        };
    }
}
