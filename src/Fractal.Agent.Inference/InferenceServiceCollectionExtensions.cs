using Fractal.Agent.Inference.Models;
using Fractal.Agent.Inference.Training;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the edge model runtime.</summary>
public static class InferenceServiceCollectionExtensions
{
    /// <summary>
    /// Adds the model runtime (<see cref="IModelRuntime"/>, hot swap and rollback), the deployer
    /// (<see cref="IModelDeployer"/>, staged versions loaded at start-up) and the training job
    /// queue (<see cref="ITrainingJobRunner"/>), configured from the <c>Fractal:Inference</c> section.
    /// </summary>
    public static IServiceCollection AddFractalInference(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddOptions<Fractal.Agent.Inference.InferenceOptions>()
            .Bind(configuration.GetSection(Fractal.Agent.Inference.InferenceOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();

        services.TryAddSingleton<ModelRuntime>();
        services.TryAddSingleton<IModelRuntime>(sp => sp.GetRequiredService<ModelRuntime>());
        services.TryAddSingleton<IModelDeployer, ModelDeployer>();
        services.TryAddSingleton<TrainingJobRunner>();
        services.TryAddSingleton<ITrainingJobRunner>(sp => sp.GetRequiredService<TrainingJobRunner>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ModelStartupService>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, TrainingJobRunner>(sp => sp.GetRequiredService<TrainingJobRunner>()));
        return services;
    }
}
