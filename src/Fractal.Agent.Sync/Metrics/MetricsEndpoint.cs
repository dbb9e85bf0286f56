using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Fractal.Agent.Sync.Metrics;

/// <summary>
/// Serves the data path's metrics on <c>http://{Host}:{Port}/metrics</c> with prometheus-net's
/// standalone server (no ASP.NET Core in the agent: it stays small).
/// </summary>
internal sealed class MetricsEndpoint(SyncMetrics metrics, IOptions<MetricsOptions> options) : IHostedService, IDisposable
{
    private MetricServer? _server;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        if (o.Port == 0)
        {
            return Task.CompletedTask;
        }

        _server = new MetricServer(o.Host, o.Port, "metrics/", metrics.Registry);
        _server.Start();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not null)
        {
            await _server.StopAsync();
        }
    }

    public void Dispose() => _server?.Dispose();
}
