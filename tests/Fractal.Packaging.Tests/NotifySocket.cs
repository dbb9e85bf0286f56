using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;

namespace Fractal.Packaging.Tests;

/// <summary>One sd_notify datagram and when it arrived.</summary>
internal readonly record struct Notification(string Text, TimeSpan At);

/// <summary>Plays systemd's part of the notify protocol: a unix datagram socket named by NOTIFY_SOCKET.</summary>
internal sealed class NotifySocket : IAsyncDisposable
{
    private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    private readonly Channel<Notification> _received = Channel.CreateUnbounded<Notification>();
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Task _loop;

    public NotifySocket(string path)
    {
        Path = path;
        _socket.Bind(new UnixDomainSocketEndPoint(path));
        // The agent runs as the service user: it must be able to write to the socket.
        File.SetUnixFileMode(path, (UnixFileMode)0b111_111_111);
        _loop = ReceiveAsync();
    }

    public string Path { get; }

    /// <summary>The next datagram that contains <paramref name="line"/> as one of its lines.</summary>
    public async Task<Notification> WaitForAsync(string line, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var next = await _received.Reader.ReadAsync(cts.Token);
                if (next.Text.Split('\n').Contains(line))
                {
                    return next;
                }
            }
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no '{line}' on the notify socket within {timeout}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _socket.Dispose();
        try
        {
            await _loop;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Closed under the pending receive.
        }

        _stop.Dispose();
        File.Delete(Path);
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[4096];
        while (!_stop.IsCancellationRequested)
        {
            var n = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
            await _received.Writer.WriteAsync(new Notification(Encoding.UTF8.GetString(buffer, 0, n), _clock.Elapsed));
        }
    }
}
