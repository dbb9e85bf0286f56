using Fractal.Agent.Sync.Buffer;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fractal.Agent.Sync.Tests;

/// <summary>The agent's data path in a real generic host, configured in memory.</summary>
internal sealed class TestAgentHost : IAsyncDisposable
{
    private readonly IHost _host;

    private TestAgentHost(IHost host)
    {
        _host = host;
    }

    public DurableBuffer Buffer => _host.Services.GetRequiredService<DurableBuffer>();

    public IServiceProvider Services => _host.Services;

    public static async Task<TestAgentHost> StartAsync(string stateDirectory, IDictionary<string, string?> settings, Action<IServiceCollection>? configureServices = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["Agent:StateDirectory"] = stateDirectory,
            ["Agent:NodeId"] = "node-test",
            ["Metrics:Port"] = "0",
            ["Uplinks:Hub:Enabled"] = "false",
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(all);
        builder.Logging.AddConsole().SetMinimumLevel(LogLevel.Warning);
        configureServices?.Invoke(builder.Services);
        builder.Services.AddFractalSync(builder.Configuration);
        var host = builder.Build();
        await host.StartAsync();
        return new TestAgentHost(host);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
