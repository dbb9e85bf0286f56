using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fractal.Agent;

/// <summary>The host with the agent's configuration sources, in increasing precedence.</summary>
internal static class AgentHostBuilder
{
    /// <summary>The operator's configuration file (a dpkg conffile); FRACTAL_CONFIG overrides the path.</summary>
    public const string DefaultConfigFile = "/etc/fractal/agent.json";

    public static HostApplicationBuilder Create(string[] args)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
            ApplicationName = "fractal-agent",
        });

        var configFile = Environment.GetEnvironmentVariable("FRACTAL_CONFIG") ?? DefaultConfigFile;
        builder.Configuration
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true, reloadOnChange: false)
            .AddJsonFile(configFile, optional: configFile == DefaultConfigFile, reloadOnChange: false)
            .AddEnvironmentVariables("FRACTAL_")
            .AddCommandLine(args);

        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        builder.Logging.AddConsole();
        return builder;
    }
}
