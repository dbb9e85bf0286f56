using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Fractal.Benchmarks.Drain;

/// <summary>
/// TCP payload bytes of this machine's client connections to one server port, read from the
/// kernel (<c>ss -tin</c>: bytes_sent / bytes_received per socket). It sees every protocol
/// (HTTP/2 + gRPC, the Kafka protocol, HTTP/1.1 + S3) the same way, headers and framing included.
/// Sampled periodically so connections closed during a run still count.
/// </summary>
internal sealed partial class SocketBytes : IAsyncDisposable
{
    private readonly int _port;
    private readonly Dictionary<string, (long Sent, long Received)> _sockets = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sampler;

    private readonly Dictionary<string, (long Sent, long Received)> _before = new(StringComparer.Ordinal);

    public SocketBytes(int port)
    {
        _port = port;
        // Sockets of earlier runs (closed, lingering in FIN-WAIT/TIME-WAIT with their counters) or
        // still open count only with what they carry from now on.
        Sample();
        foreach (var (socket, bytes) in _sockets)
        {
            _before[socket] = bytes;
        }

        _sampler = Task.Run(SampleLoopAsync);
    }

    /// <summary>Client to server (upload) bytes.</summary>
    public long Sent { get; private set; }

    /// <summary>Server to client (acknowledgements) bytes.</summary>
    public long Received { get; private set; }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _sampler;
        Sample();
        _stop.Dispose();
    }

    private async Task SampleLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Sample();
            try
            {
                await Task.Delay(250, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Sample()
    {
        using var process = Process.Start(new ProcessStartInfo("ss", ["-HtinO", "dst", $"127.0.0.1:{_port.ToString(CultureInfo.InvariantCulture)}"])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("ss (iproute2) did not start.");
        var output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        lock (_sockets)
        {
            foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 5)
                {
                    continue;
                }

                // State Recv-Q Send-Q Local Peer ...: the local address:port names the socket.
                var local = fields[3];
                var sent = Field(SentPattern(), line);
                var received = Field(ReceivedPattern(), line);
                var known = _sockets.GetValueOrDefault(local);
                _sockets[local] = (Math.Max(known.Sent, sent), Math.Max(known.Received, received));
            }

            Sent = _sockets.Sum(s => s.Value.Sent - _before.GetValueOrDefault(s.Key).Sent);
            Received = _sockets.Sum(s => s.Value.Received - _before.GetValueOrDefault(s.Key).Received);
        }
    }

    private static long Field(Regex pattern, string line)
    {
        var match = pattern.Match(line);
        return match.Success ? long.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture) : 0;
    }

    [GeneratedRegex(@"\bbytes_sent:(\d+)")]
    private static partial Regex SentPattern();

    [GeneratedRegex(@"\bbytes_received:(\d+)")]
    private static partial Regex ReceivedPattern();
}
