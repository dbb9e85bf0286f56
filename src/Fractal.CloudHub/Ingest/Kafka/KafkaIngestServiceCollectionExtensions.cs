using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Fractal.CloudHub.Ingest.Kafka;

/// <summary>Registration of Kafka ingestion.</summary>
public static class KafkaIngestServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="KafkaIngestOptions"/> from <c>Ingest:Kafka</c> (validated on start) and adds
    /// the consumer as a hosted service. It idles when <c>Ingest:Kafka:BootstrapServers</c> is
    /// empty. Needs an <see cref="DataLake.IDataLake"/> (AddFractalHub registers the Parquet lake).
    /// </summary>
    public static IServiceCollection AddKafkaIngest(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddOptions<KafkaIngestOptions>()
            .Bind(configuration.GetSection(KafkaIngestOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KafkaIngestOptions>, KafkaIngestOptionsValidator>());

        // The shared ingest limits; AddFractalHub binds them from "Ingest", defaults otherwise.
        services.AddOptions<IngestOptions>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<KafkaIngestConsumer>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, KafkaIngestConsumer>(sp => sp.GetRequiredService<KafkaIngestConsumer>()));
        return services;
    }
}
