using Fractal.Agent.Sync.Buffer;
using Fractal.Agent.Sync.Identity;
using Fractal.Agent.Sync.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync.Uplinks;

/// <summary>Runs one <see cref="UplinkWorker"/> per registered transport, each independent of the others.</summary>
internal sealed class UplinkHostedService : BackgroundService
{
    private readonly List<UplinkWorker> _workers;
    private readonly ILogger<UplinkHostedService> _logger;

    public UplinkHostedService(
        IEnumerable<IUplinkTransport> transports,
        DurableBuffer buffer,
        NodeIdentity identity,
        IOptionsMonitor<UplinkDeliveryOptions> options,
        SyncMetrics metrics,
        TimeProvider time,
        ILogger<UplinkHostedService> logger)
    {
        _logger = logger;
        // Constructed before any hosted service starts, so every uplink is registered with the
        // buffer before it opens (a reading is deleted only when all registered uplinks have it).
        _workers = transports.Select(t => new UplinkWorker(t, buffer, identity, options.Get(t.Name), metrics, time, logger)).ToList();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var worker in _workers)
        {
            UplinkLog.Started(_logger, worker.Name);
        }

        return Task.WhenAll(_workers.Select(w => Task.Run(() => w.RunAsync(stoppingToken), stoppingToken)));
    }
}
