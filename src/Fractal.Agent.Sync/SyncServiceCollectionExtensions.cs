using System.Diagnostics.CodeAnalysis;
using Fractal.Agent.Sync.Buffer;
using Fractal.Agent.Sync.Identity;
using Fractal.Agent.Sync.Ingest;
using Fractal.Agent.Sync.Metrics;
using Fractal.Agent.Sync.Mqtt;
using Fractal.Agent.Sync.Uplinks;
using Fractal.Agent.Sync.Uplinks.Hub;
using Fractal.Agent.Sync.Uplinks.Kafka;
using Fractal.Agent.Sync.Uplinks.S3;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Fractal.Agent.Sync;

/// <summary>Registers the edge data path: MQTT ingest, the durable buffer, the uplinks, metrics.</summary>
public static class SyncServiceCollectionExtensions
{
    public static IServiceCollection AddFractalSync(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddOptions<AgentOptions>().Bind(configuration.GetSection(AgentOptions.SectionName)).ValidateConfiguration(AgentOptions.SectionName);
        services.AddOptions<BufferOptions>().Bind(configuration.GetSection(BufferOptions.SectionName)).ValidateConfiguration(BufferOptions.SectionName);
        services.AddOptions<MqttIngestOptions>().Bind(configuration.GetSection(MqttIngestOptions.SectionName)).ValidateConfiguration(MqttIngestOptions.SectionName);
        services.AddOptions<MetricsOptions>().Bind(configuration.GetSection(MetricsOptions.SectionName)).ValidateConfiguration(MetricsOptions.SectionName);

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<SyncMetrics>();
        services.TryAddSingleton<NodeIdentity>();
        services.TryAddSingleton(_ => StreamCatalog.FromConfiguration(configuration));
        services.TryAddSingleton<DurableBuffer>();
        services.TryAddSingleton<IngestPipeline>();

        // Order matters: hosted services start in this order and stop in reverse, so the buffer
        // opens first and closes last, after ingest has finished its in-flight commits.
        services.AddHostedService<BufferHostedService>();
        AddUplinks(services, configuration);
        if (string.IsNullOrWhiteSpace(configuration[$"{MqttIngestOptions.SectionName}:BrokerHost"]))
        {
            AddMqttFrontEnd<EmbeddedMqttIngest>(services);
        }
        else
        {
            AddMqttFrontEnd<BrokerMqttIngest>(services);
        }

        services.AddHostedService<MetricsEndpoint>();
        return services;
    }

    /// <summary>The one MQTT front end both ingests sensors and publishes the agent's own messages.</summary>
    private static void AddMqttFrontEnd<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TFrontEnd>(IServiceCollection services)
        where TFrontEnd : class, IHostedService, ILocalPublisher
    {
        services.TryAddSingleton<TFrontEnd>();
        services.AddHostedService(sp => sp.GetRequiredService<TFrontEnd>());
        services.TryAddSingleton<ILocalPublisher>(sp => sp.GetRequiredService<TFrontEnd>());
    }

    private static void AddUplinks(IServiceCollection services, IConfiguration configuration)
    {
        bool Enabled(string name, bool byDefault)
        {
            var value = configuration[$"{UplinkDeliveryOptions.SectionPrefix}:{name}:Enabled"];
            if (value is null)
            {
                return byDefault;
            }

            return bool.TryParse(value, out var enabled)
                ? enabled
                : throw new ConfigurationValueException($"{UplinkDeliveryOptions.SectionPrefix}:{name}:Enabled", value, "must be true or false");
        }

        foreach (var name in new[] { "hub", "kafka", "s3" })
        {
            services.AddOptions<UplinkDeliveryOptions>(name)
                .Bind(configuration.GetSection($"{UplinkDeliveryOptions.SectionPrefix}:{name}"))
                .ValidateConfiguration($"{UplinkDeliveryOptions.SectionPrefix}:{name}");
        }

        if (Enabled("Hub", byDefault: true))
        {
            services.AddOptions<HubUplinkOptions>().Bind(configuration.GetSection(HubUplinkOptions.SectionName)).ValidateConfiguration(HubUplinkOptions.SectionName);
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IUplinkTransport, HubUplinkTransport>());
        }

        if (Enabled("Kafka", byDefault: false))
        {
            services.AddKafkaUplink(configuration);
        }

        if (Enabled("S3", byDefault: false))
        {
            services.AddS3Uplink(configuration);
        }

        services.AddHostedService<UplinkHostedService>();
    }
}
