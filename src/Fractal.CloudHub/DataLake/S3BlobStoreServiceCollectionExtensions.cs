using Fractal.CloudHub.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Fractal.CloudHub.DataLake;

/// <summary>Registration of the S3 blob store.</summary>
public static class S3BlobStoreServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="S3BlobStoreOptions"/> from <c>DataLake:S3</c> (validated on start; a bad
    /// value names its key and value) and registers <see cref="S3BlobStore"/>, also as the
    /// <see cref="IBlobStore"/> unless one is registered already. Call it before
    /// <c>AddFractalHub</c> when <c>DataLake:Backend</c> is <c>s3</c>.
    /// </summary>
    public static IServiceCollection AddS3BlobStore(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddOptions<S3BlobStoreOptions>().Bind(configuration.GetSection(S3BlobStoreOptions.SectionName)).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<S3BlobStoreOptions>>(new SectionValidator<S3BlobStoreOptions>(S3BlobStoreOptions.SectionName)));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<S3BlobStoreOptions>, S3BlobStoreOptionsValidator>());
        services.TryAddSingleton(S3BlobStore.Create);
        services.TryAddSingleton<IBlobStore>(sp => sp.GetRequiredService<S3BlobStore>());
        return services;
    }
}
