using System.Globalization;
using Fractal.Agent.Sync.Buffer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace Fractal.Agent.Systemd;

/// <summary>
/// sd_notify for Type=notify units: READY=1 once every service has started (buffer open, MQTT
/// listening), WATCHDOG=1 at half of WatchdogSec while the buffer's writer is alive, STOPPING=1 on
/// shutdown. Uses the NOTIFY_SOCKET protocol directly, so it works under systemd and under a
/// test that plays systemd's part.
/// </summary>
internal sealed partial class SystemdNotifications(
    IHostApplicationLifetime lifetime,
    DurableBuffer buffer,
    TimeProvider time,
    ILogger<SystemdNotifications> logger) : BackgroundService
{
    private readonly SystemdNotifier _notifier = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_notifier.IsEnabled)
        {
            return;
        }

        using var stopping = lifetime.ApplicationStopping.Register(() => _notifier.Notify(ServiceState.Stopping));
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            await started.Task.WaitAsync(stoppingToken);
        }

        _notifier.Notify(ServiceState.Ready);
        Log.Ready(logger);

        var interval = WatchdogInterval();
        if (interval is null)
        {
            return;
        }

        using var timer = new PeriodicTimer(interval.Value, time);
        try
        {
            do
            {
                // A hung writer means acknowledgements stopped: let systemd's watchdog restart us.
                if (buffer.IsWriterAlive)
                {
                    _notifier.Notify(new ServiceState("WATCHDOG=1"));
                }
                else
                {
                    Log.WatchdogWithheld(logger);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private static TimeSpan? WatchdogInterval()
    {
        var usec = Environment.GetEnvironmentVariable("WATCHDOG_USEC");
        if (!long.TryParse(usec, NumberStyles.None, CultureInfo.InvariantCulture, out var microseconds) || microseconds <= 0)
        {
            return null;
        }

        // systemd recommends pinging at half the timeout.
        return TimeSpan.FromTicks(microseconds * 10 / 2);
    }

    private static partial class Log
    {
        [LoggerMessage(9001, LogLevel.Information, "Notified systemd: READY=1")]
        public static partial void Ready(ILogger logger);

        [LoggerMessage(9002, LogLevel.Error, "Buffer writer is not running; withholding the watchdog ping")]
        public static partial void WatchdogWithheld(ILogger logger);
    }
}

internal static class SystemdNotificationsExtensions
{
    public static IServiceCollection AddSystemdNotifications(this IServiceCollection services)
        => services.AddHostedService<SystemdNotifications>();
}
