using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync.Uplinks.S3;

/// <summary>Registration of the S3 uplink.</summary>
public static class S3UplinkServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="S3UplinkOptions"/> from <c>Uplinks:S3</c> (validated on start; a bad value
    /// names its key and value) and, when <c>Uplinks:S3:Bucket</c> is set, adds the S3
    /// <see cref="IUplinkTransport"/> (name <c>s3</c>). Calling it twice registers the transport once.
    /// </summary>
    public static IServiceCollection AddS3Uplink(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        var section = configuration.GetSection(S3UplinkOptions.SectionName);
        services.AddOptions<S3UplinkOptions>().Bind(section).ValidateConfiguration(S3UplinkOptions.SectionName);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<S3UplinkOptions>, S3UplinkOptionsValidator>());

        // An unconfigured uplink is absent rather than failing: most nodes use the hub's gRPC ingest.
        if (!string.IsNullOrWhiteSpace(section[nameof(S3UplinkOptions.Bucket)]))
        {
            services.TryAddSingleton<S3UplinkTransport>();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IUplinkTransport, S3UplinkTransport>(sp => sp.GetRequiredService<S3UplinkTransport>()));
        }

        return services;
    }
}
