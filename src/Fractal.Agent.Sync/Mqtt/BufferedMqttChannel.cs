using System.Buffers;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Channel;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Implementations;

namespace Fractal.Agent.Sync.Mqtt;

/// <summary>
/// A client channel that reads ahead and sends the packets written while a send is in progress
/// together: one socket call carries many packets each way.
/// </summary>
/// <remarks>
/// MQTTnet reads each packet with several socket reads (the fixed header a byte at a time, then
/// the body) and sends each packet with its own socket write. Under load, with a broker's window
/// of PUBLISHes arriving and a group commit's worth of PUBACKs leaving at once, that was about 3.4
/// receive calls and 1.2 send calls per message for the agent, and as many wake-ups for the
/// broker, on the same two cores.
/// <list type="bullet">
/// <item>Reads: one receive fills a 64 KiB buffer with whatever has arrived; MQTTnet's small reads
/// are served from it. An idle connection waits in the receive as before.</item>
/// <item>Read coalescing: read at once, a streaming broker's PUBLISHes were still taken one or two
/// per receive, each with its own wake-up. While the connection has brought at least
/// <see cref="CoalesceMinBytes"/> per coalescing interval over the last
/// <see cref="RateWindow"/>, the channel waits that interval before the next receive, so one
/// receive takes what arrived meanwhile. A slower connection is read at once.</item>
/// <item>Writes: a write copies the packet into a pending buffer; one send loop writes out
/// everything pending, in order. The first packet on an idle connection goes out at once; on a
/// busy one, packets leave in groups. A packet counts as written once it is queued, so a PUBACK
/// can be lost with the connection after being "written": the broker then redelivers the
/// message and the source id drops the duplicate, exactly as when the connection drops before
/// the PUBACK. Writers wait while more than <see cref="MaxPendingBytes"/> are queued, so a
/// broker that stops reading still pushes back.</item>
/// </list>
/// See docs/design/0002-durable-buffer.md, "Acknowledgements on the wire".
/// </remarks>
internal sealed class BufferedMqttChannel(IMqttChannel inner, TimeSpan readCoalescing = default, TimeProvider? time = null) : IMqttChannel
{
    /// <summary>Bytes per coalescing interval from which waiting before a receive pays: a few small PUBLISHes.</summary>
    public const int CoalesceMinBytes = 512;

    /// <summary>How long a rate is measured before it decides whether receives wait.</summary>
    public static readonly TimeSpan RateWindow = TimeSpan.FromMilliseconds(20);

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    // Read coalescing: bytes received since _windowStart, and the decision of the last full window.
    private long _windowStart = (time ?? TimeProvider.System).GetTimestamp();
    private long _windowBytes;
    private bool _streaming;

    /// <summary>Queued bytes beyond which writers wait for the send loop.</summary>
    public const int MaxPendingBytes = 256 * 1024;

    /// <summary>Bytes one receive may fetch ahead.</summary>
    public const int ReadAheadBytes = 64 * 1024;

    // Reading: the bytes received but not yet taken are _readAhead[_readStart.._readEnd].
    private readonly byte[] _readAhead = new byte[ReadAheadBytes];
    private int _readStart;
    private int _readEnd;

    // Writing: writers append to _pending under _gate; the send loop swaps it with _sending.
    private readonly Lock _gate = new();
    private ArrayBufferWriter<byte> _pending = new(4096);
    private ArrayBufferWriter<byte> _sending = new(4096);
    private Task _sendLoop = Task.CompletedTask;
    private TaskCompletionSource? _drained;
    private Exception? _fault;

    public X509Certificate2 ClientCertificate => inner.ClientCertificate;

    public EndPoint RemoteEndPoint => inner.RemoteEndPoint;

    public EndPoint LocalEndPoint => inner.LocalEndPoint;

    public bool IsSecureConnection => inner.IsSecureConnection;

    /// <summary>Socket writes made (for tests and diagnostics).</summary>
    public long Sends { get; private set; }

    public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);

    public async Task DisconnectAsync(CancellationToken cancellationToken)
    {
        // What was written before the disconnect (the last PUBACKs, the DISCONNECT packet) goes out first.
        try
        {
            await FlushAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (MqttCommunicationException)
        {
            // Already broken; closing is all that is left to do.
        }

        await inner.DisconnectAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Socket receives made (for tests and diagnostics).</summary>
    public long Receives { get; private set; }

    /// <remarks>MQTTnet has one reader per connection, so reads need no lock.</remarks>
    public Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        return _readStart < _readEnd ? Task.FromResult(TakeReadAhead(buffer, offset, count)) : ReceiveAsync(buffer, offset, count, cancellationToken);
    }

    /// <summary>Receives that waited the coalescing interval first (for tests and diagnostics).</summary>
    public long CoalescedReceives { get; private set; }

    private async Task<int> ReceiveAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        if (_streaming)
        {
            CoalescedReceives++;
            await Task.Delay(readCoalescing, _time, cancellationToken).ConfigureAwait(false);
        }

        var received = await inner.ReadAsync(_readAhead, 0, _readAhead.Length, cancellationToken).ConfigureAwait(false);
        Receives++;
        if (received <= 0)
        {
            return received; // closed
        }

        MeasureRate(received);

        (_readStart, _readEnd) = (0, received);
        return TakeReadAhead(buffer, offset, count);
    }

    /// <summary>Counts a receive's bytes; at the end of each rate window, decides whether the next receives wait.</summary>
    private void MeasureRate(int received)
    {
        if (readCoalescing <= TimeSpan.Zero)
        {
            return;
        }

        var now = _time.GetTimestamp();
        _windowBytes += received;
        var elapsed = _time.GetElapsedTime(_windowStart, now);
        if (elapsed >= RateWindow)
        {
            // The bytes one interval gathers at the window's rate. After an idle spell the window
            // is long and the rate low, so a connection that went quiet is read at once again.
            _streaming = _windowBytes * readCoalescing.Ticks >= CoalesceMinBytes * elapsed.Ticks;
            (_windowStart, _windowBytes) = (now, 0);
        }
    }

    private int TakeReadAhead(byte[] buffer, int offset, int count)
    {
        var take = Math.Min(count, _readEnd - _readStart);
        _readAhead.AsSpan(_readStart, take).CopyTo(buffer.AsSpan(offset));
        _readStart += take;
        return take;
    }

    public Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Task? backlog = null;
        lock (_gate)
        {
            if (_fault is not null)
            {
                throw new MqttCommunicationException(_fault);
            }

            foreach (var segment in buffer)
            {
                _pending.Write(segment.Span);
            }

            if (_sendLoop.IsCompleted)
            {
                _sendLoop = Task.Run(SendLoopAsync, CancellationToken.None);
            }
            else if (_pending.WrittenCount > MaxPendingBytes)
            {
                backlog = WaitForDrainLocked();
            }
        }

        return backlog?.WaitAsync(cancellationToken) ?? Task.CompletedTask;
    }

    /// <summary>Completes when every byte written so far has been sent (or the channel failed).</summary>
    public Task FlushAsync()
    {
        lock (_gate)
        {
            return _sendLoop.IsCompleted ? Task.CompletedTask : WaitForDrainLocked();
        }
    }

    public void Dispose() => inner.Dispose();

    private Task WaitForDrainLocked()
    {
        _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _drained.Task;
    }

    /// <summary>
    /// Moves the pending bytes to the sending buffer, or, with nothing pending, ends the send loop
    /// (the next write starts a new one, possibly before this one has returned, so the caller must
    /// not touch the buffers after a false return).
    /// </summary>
    private bool TryTakePending(out TaskCompletionSource? drained)
    {
        lock (_gate)
        {
            if (_pending.WrittenCount > 0)
            {
                (_pending, _sending) = (_sending, _pending);
                drained = null;
                return true;
            }

            (drained, _drained) = (_drained, null);
            _sendLoop = Task.CompletedTask;
            return false;
        }
    }

    private async Task SendLoopAsync()
    {
        while (true)
        {
            if (!TryTakePending(out var drained))
            {
                drained?.TrySetResult();
                return;
            }

            try
            {
                await inner.WriteAsync(new ReadOnlySequence<byte>(_sending.WrittenMemory), true, CancellationToken.None).ConfigureAwait(false);
                Sends++;
                _sending.ResetWrittenCount();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The connection is gone: MQTTnet's reader notices it too and reconnects with a
                // new channel. Later writes on this one fail; what was queued is dropped (the
                // broker redelivers whatever it did not see acknowledged).
                lock (_gate)
                {
                    _fault = ex;
                    _pending.ResetWrittenCount();
                    _sending.ResetWrittenCount();
                    (drained, _drained) = (_drained, null);
                    _sendLoop = Task.CompletedTask;
                }

                drained?.TrySetException(new MqttCommunicationException(ex));
                return;
            }
        }
    }
}

/// <summary>
/// MQTTnet's client adapter factory for TCP, with <see cref="BufferedMqttChannel"/> around its
/// TCP channel. Everything else is what MQTTnet's own factory builds.
/// </summary>
internal sealed class BufferedClientAdapterFactory(TimeSpan readCoalescing, TimeProvider time) : IMqttClientAdapterFactory
{
    public IMqttChannelAdapter CreateClientAdapter(MqttClientOptions options, MqttPacketInspector packetInspector, IMqttNetLogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ChannelOptions is not MqttClientTcpOptions)
        {
            return new MqttClientAdapterFactory().CreateClientAdapter(options, packetInspector, logger);
        }

        var channel = new BufferedMqttChannel(new MqttTcpChannel(options), readCoalescing, time);
        var packetFormatter = new MqttPacketFormatterAdapter(options.ProtocolVersion, new MqttBufferWriter(options.WriterBufferSize, options.WriterBufferSizeMax));
        return new MqttChannelAdapter(channel, packetFormatter, logger)
        {
            AllowPacketFragmentation = options.AllowPacketFragmentation,
            PacketInspector = packetInspector,
        };
    }
}
