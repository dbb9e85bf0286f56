using Microsoft.Extensions.Hosting;

namespace Fractal.Agent.Inference.Models;

/// <summary>Loads the staged model versions when the host starts, so a restarted node serves at once.</summary>
internal sealed class ModelStartupService(IModelDeployer deployer) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        deployer.LoadStaged();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
