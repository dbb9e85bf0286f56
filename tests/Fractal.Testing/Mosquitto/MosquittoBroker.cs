using System.Diagnostics;
using System.Net.Sockets;

namespace Fractal.Testing.Mosquitto;

/// <summary>
/// A real mosquitto broker (Debian's package) on a loopback port, configured the way Fractal's
/// docs tell operators to: unlimited queue for offline persistent sessions (mosquitto's default
/// of 1000 would silently drop acknowledged QoS 1 messages while the agent restarts) and a wide
/// in-flight window so the agent's group commits fill up.
/// </summary>
public sealed class MosquittoBroker : IAsyncDisposable
{
    private readonly TestDirectory _dir = new("mosquitto");
    private Process? _process;
    private int _disposed;

    private MosquittoBroker(int port)
    {
        Port = port;
    }

    public int Port { get; }

    public string Host { get; } = "127.0.0.1";

    public static async Task<MosquittoBroker> StartAsync(int maxInflight = 1000)
    {
        var broker = new MosquittoBroker(FreePort.Next());
        var config = broker._dir.Combine("mosquitto.conf");
        // Queue limit: large rather than 0 ("no limit"). Mosquitto 2.0.17 fixed "max_queued_messages
        // 0 stopping clients from receiving messages", and Debian 12 ships 2.0.11. TCP_NODELAY: with
        // Nagle on, a subscriber at thousands of messages/s sometimes fell into 200 ms pauses.
        await File.WriteAllTextAsync(config, $"""
            listener {broker.Port} 127.0.0.1
            allow_anonymous true
            persistence false
            max_inflight_messages {maxInflight}
            max_queued_messages 10000000
            max_queued_bytes 0
            set_tcp_nodelay true
            log_dest stderr
            log_type error
            log_type warning
            """);
        broker._process = Process.Start(new ProcessStartInfo("mosquitto", ["-c", config])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("mosquitto did not start (is the mosquitto package installed?).");
        broker._process.BeginErrorReadLine();
        broker._process.BeginOutputReadLine();
        await WaitForPortAsync(broker.Port, broker._process);
        return broker;
    }

    /// <summary>CPU time (user and system) the broker process has used so far; benchmarks take differences.</summary>
    public TimeSpan ProcessorTime
    {
        get
        {
            var process = _process ?? throw new InvalidOperationException("The broker is not running.");
            process.Refresh();
            return process.TotalProcessorTime;
        }
    }

    /// <summary>Stops the broker; safe to call again (a test may stop it early to take it down).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
        _dir.Dispose();
    }

    internal static async Task WaitForPortAsync(int port, Process process)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{process.StartInfo.FileName} exited with code {process.ExitCode} before listening on {port}.");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port, deadline.Token);
                return;
            }
            catch (SocketException)
            {
                // Not listening yet: try again shortly (a readiness poll, not a wait for an outcome).
                await Task.Delay(50, deadline.Token);
            }
        }
    }
}
