using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync.Uplinks.Kafka;

/// <summary>Registration of the Kafka uplink.</summary>
public static class KafkaUplinkServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="KafkaUplinkOptions"/> from <c>Uplinks:Kafka</c> (validated on start) and,
    /// when <c>Uplinks:Kafka:BootstrapServers</c> is set, adds the Kafka <see cref="IUplinkTransport"/>
    /// (name <c>kafka</c>). Calling it twice registers the transport once.
    /// </summary>
    public static IServiceCollection AddKafkaUplink(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        var section = configuration.GetSection(KafkaUplinkOptions.SectionName);
        services.AddOptions<KafkaUplinkOptions>().Bind(section).ValidateConfiguration(KafkaUplinkOptions.SectionName);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KafkaUplinkOptions>, KafkaUplinkOptionsValidator>());

        // An unconfigured uplink is absent rather than failing: most nodes use the hub's gRPC ingest.
        if (!string.IsNullOrWhiteSpace(section[nameof(KafkaUplinkOptions.BootstrapServers)]))
        {
            services.TryAddSingleton<KafkaUplinkTransport>();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IUplinkTransport, KafkaUplinkTransport>(sp => sp.GetRequiredService<KafkaUplinkTransport>()));
        }

        return services;
    }
}
