using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync.Buffer;

/// <summary>Opens the buffer at start, runs housekeeping on a timer, and closes it last at stop.</summary>
internal sealed class BufferHostedService(DurableBuffer buffer, IOptions<BufferOptions> options, TimeProvider time, IHostApplicationLifetime lifetime, ILogger<BufferHostedService> logger) : IHostedService, IAsyncDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private Task? _housekeeping;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        buffer.Open();
        _housekeeping = HousekeepingAsync(_stopping.Token);
        _ = buffer.WriterCompletion.ContinueWith(
            _ =>
            {
                // Fatal: without the writer nothing is acknowledged. Exit non-zero so systemd
                // (Restart=on-failure) starts a fresh process, which recovers the file.
                Environment.ExitCode = 70;
                lifetime.StopApplication();
            },
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted,
            TaskScheduler.Default);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_housekeeping is not null)
        {
            await _housekeeping;
        }

        // Finishes in-flight group commits: queued appends are committed and acknowledged.
        await buffer.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        _stopping.Dispose();
        await buffer.DisposeAsync();
    }

    private async Task HousekeepingAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.Value.MaintenanceInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                try
                {
                    await buffer.RunMaintenanceAsync(cancellationToken);
                }
                catch (Exception ex) when (ex is IOException or LiteDB.LiteException)
                {
                    BufferLog.MaintenanceFailed(logger, ex);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }
}
