using Fractal.Agent;
using Fractal.Agent.Sync;
using Fractal.Agent.Systemd;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// Composition root of the edge daemon: configuration, systemd integration, and the libraries'
// AddXxx registrations. Everything else lives in the libraries.
try
{
    var builder = AgentHostBuilder.Create(args);
    builder.Services.AddSystemd();
    builder.Services.AddSystemdNotifications();
    builder.Services.AddFractalSync(builder.Configuration);
    builder.Services.AddFractalInference(builder.Configuration);
    builder.Services.AddFractalPredictions();
    builder.Services.AddFractalLocalRetraining();
    using var host = builder.Build();
    await host.RunAsync();
    return ExitCodes.Success;
}
catch (Exception ex) when (ConfigurationErrors.TryDescribe(ex, out var message))
{
    // EX_CONFIG: systemd's RestartPreventExitStatus=78 keeps the unit from restart-looping.
    await Console.Error.WriteLineAsync($"fractal-agent: {message}");
    return ExitCodes.BadConfiguration;
}
