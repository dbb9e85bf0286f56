using Fractal.Agent.Inference;
using Fractal.Agent.Inference.Models;
using Fractal.Agent.Inference.Serving;
using Fractal.Agent.Inference.Training;
using Fractal.Agent.Sync;
using Fractal.Agent.Sync.Identity;
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
    /// queue (<see cref="ITrainingJobRunner"/>), configured from the <c>Inference</c> section.
    /// </summary>
    public static IServiceCollection AddFractalInference(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);

        services.AddOptions<InferenceOptions>()
            .Bind(configuration.GetSection(InferenceOptions.SectionName))
            .ValidateConfiguration(InferenceOptions.SectionName);

        services.TryAddSingleton<ModelRuntime>();
        services.TryAddSingleton<IModelRuntime>(sp => sp.GetRequiredService<ModelRuntime>());
        services.TryAddSingleton<IModelDeployer, ModelDeployer>();
        services.TryAddSingleton<TrainingJobRunner>();
        services.TryAddSingleton<ITrainingJobRunner>(sp => sp.GetRequiredService<TrainingJobRunner>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ModelStartupService>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, TrainingJobRunner>(sp => sp.GetRequiredService<TrainingJobRunner>()));
        return services;
    }

    /// <summary>
    /// Runs the active model on the sensor streams whose policy sets <c>Inference</c> and
    /// publishes the results over MQTT (<see cref="PredictionService"/>). Needs
    /// <c>AddFractalSync</c> and <see cref="AddFractalInference"/>; call it after both so that it
    /// stops first. A relative <c>Inference:ModelDirectory</c> is placed under the agent's state
    /// directory.
    /// </summary>
    public static IServiceCollection AddFractalPredictions(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<InferenceOptions>()
            .PostConfigure<NodeIdentity>((options, identity) => options.ModelDirectory = identity.ResolvePath(options.ModelDirectory));
        services.TryAddSingleton<InferenceMetrics>();
        services.AddHostedService<PredictionService>();
        return services;
    }

    /// <summary>
    /// Retrains the active model on the training reservoir of each stream whose policy sets
    /// <c>RetrainLocally</c> and keeps the result on the node when it scores better
    /// (<see cref="LocalRetrainingService"/>, distributed learning). Needs <c>AddFractalSync</c>
    /// and <see cref="AddFractalPredictions"/>.
    /// </summary>
    public static IServiceCollection AddFractalLocalRetraining(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<InferenceMetrics>();
        services.TryAddSingleton<LocalRetrainingService>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, LocalRetrainingService>(sp => sp.GetRequiredService<LocalRetrainingService>()));
        return services;
    }
}
