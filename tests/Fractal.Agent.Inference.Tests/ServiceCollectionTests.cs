using Fractal.Agent.Inference.Models;
using Fractal.Agent.Inference.Training;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Inference.Tests;

public sealed class ServiceCollectionTests
{
    [Fact]
    public async Task AddFractalInference_StagedModel_HostStartsServingIt()
    {
        using var directory = new TempDirectory();
        using (var runtime = TestModels.Runtime(directory.Path))
        {
            new ModelDeployer(runtime, Options.Create(new InferenceOptions { ModelDirectory = directory.Path }), Microsoft.Extensions.Logging.Abstractions.NullLogger<ModelDeployer>.Instance)
                .Deploy("v7", TestModels.SpecJson(), TestModels.Onnx(2));
        }

        using var host = BuildHost(new() { ["Inference:ModelDirectory"] = directory.Path, ["Inference:IntraOpThreads"] = "1" });
        await host.StartAsync();

        var runtimeFromDi = host.Services.GetRequiredService<IModelRuntime>();
        Assert.Equal("v7", TestModels.Predict(runtimeFromDi).ModelVersion);
        Assert.NotNull(host.Services.GetRequiredService<ITrainingJobRunner>());
        Assert.Same(runtimeFromDi, host.Services.GetRequiredService<IModelRuntime>());
        await host.StopAsync();
    }

    [Fact]
    public async Task AddFractalInference_InvalidThreads_FailsAtStartNamingTheKey()
    {
        using var host = BuildHost(new() { ["Inference:IntraOpThreads"] = "0" });

        var ex = await Assert.ThrowsAsync<Fractal.Agent.Sync.ConfigurationValueException>(() => host.StartAsync());

        Assert.Contains("Inference:IntraOpThreads='0'", ex.Message, StringComparison.Ordinal);
    }

    private static IHost BuildHost(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddFractalInference(builder.Configuration);
        return builder.Build();
    }
}
