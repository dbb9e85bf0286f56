using System.Buffers;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Fractal.Agent.Sync.Mqtt;
using Microsoft.Extensions.Time.Testing;
using MQTTnet.Channel;
using MQTTnet.Exceptions;

namespace Fractal.Agent.Sync.Tests.Mqtt;

public sealed class BufferedMqttChannelTests
{
    private static ReadOnlySequence<byte> Packet(params byte[] bytes) => new(bytes);

    [Fact]
    public async Task Writes_DuringASend_LeaveTogetherInOneWrite_InOrder()
    {
        var socket = new RecordingChannel();
        var channel = new BufferedMqttChannel(socket);
        socket.Gate = new TaskCompletionSource();

        await channel.WriteAsync(Packet(1, 1), true, CancellationToken.None);
        await socket.FirstWriteStarted.Task;
        for (byte b = 2; b <= 5; b++)
        {
            // Returns at once: the packet is queued while the first send is in progress.
            await channel.WriteAsync(Packet(b, b), true, CancellationToken.None);
        }

        socket.Gate.SetResult();
        await channel.FlushAsync();

        Assert.Equal([[1, 1], [2, 2, 3, 3, 4, 4, 5, 5]], socket.Writes);
        Assert.Equal(2, channel.Sends);
    }

    [Fact]
    public async Task IdleChannel_SendsAWriteAtOnce()
    {
        var socket = new RecordingChannel();
        var channel = new BufferedMqttChannel(socket);

        await channel.WriteAsync(Packet(7), true, CancellationToken.None);
        await channel.FlushAsync();
        await channel.WriteAsync(Packet(8), true, CancellationToken.None);
        await channel.FlushAsync();

        Assert.Equal([[7], [8]], socket.Writes);
    }

    [Fact]
    public async Task MultiSegmentPacket_IsSentWhole()
    {
        var socket = new RecordingChannel();
        var channel = new BufferedMqttChannel(socket);
        var first = new Segment(new byte[] { 1, 2 });
        var last = first.Append(new byte[] { 3, 4, 5 });

        await channel.WriteAsync(new ReadOnlySequence<byte>(first, 0, last, 3), true, CancellationToken.None);
        await channel.FlushAsync();

        Assert.Equal([[1, 2, 3, 4, 5]], socket.Writes);
    }

    [Fact]
    public async Task FailedSend_LaterWritesAndFlushFail_NothingIsSentAfterIt()
    {
        var socket = new RecordingChannel { Gate = new TaskCompletionSource() };
        var channel = new BufferedMqttChannel(socket);
        await channel.WriteAsync(Packet(1), true, CancellationToken.None);
        await socket.FirstWriteStarted.Task;
        await channel.WriteAsync(Packet(2), true, CancellationToken.None);
        var flush = channel.FlushAsync();

        socket.Gate.SetException(new IOException("connection reset"));

        await Assert.ThrowsAsync<MqttCommunicationException>(() => flush);
        await Assert.ThrowsAsync<MqttCommunicationException>(() => channel.WriteAsync(Packet(3), true, CancellationToken.None));
        Assert.Empty(socket.Writes);
    }

    [Fact]
    public async Task Backlog_BeyondTheLimit_WriterWaitsForTheSend()
    {
        var socket = new RecordingChannel { Gate = new TaskCompletionSource() };
        var channel = new BufferedMqttChannel(socket);
        await channel.WriteAsync(Packet(0), true, CancellationToken.None);
        await socket.FirstWriteStarted.Task;

        var large = new byte[BufferedMqttChannel.MaxPendingBytes + 1];
        var blocked = channel.WriteAsync(new ReadOnlySequence<byte>(large), true, CancellationToken.None);
        Assert.False(blocked.IsCompleted);

        socket.Gate.SetResult();
        await blocked;
        Assert.Equal(1 + large.Length, socket.Writes.Sum(w => w.Length));
    }

    [Fact]
    public async Task Disconnect_SendsWhatWasWrittenFirst()
    {
        var socket = new RecordingChannel { Gate = new TaskCompletionSource() };
        var channel = new BufferedMqttChannel(socket);
        await channel.WriteAsync(Packet(1), true, CancellationToken.None);
        await socket.FirstWriteStarted.Task;
        await channel.WriteAsync(Packet(0xE0, 0), true, CancellationToken.None); // DISCONNECT

        var disconnect = channel.DisconnectAsync(CancellationToken.None);
        Assert.False(socket.Disconnected);
        socket.Gate.SetResult();
        await disconnect;

        Assert.True(socket.Disconnected);
        Assert.Equal([[1], [0xE0, 0]], socket.Writes);
    }

    [Fact]
    public async Task SmallReads_AreServedFromOneReceive()
    {
        var socket = new RecordingChannel();
        socket.Incoming.Enqueue([0x30, 3, 1, 2, 3, 0x40, 2, 0, 1]); // two packets arrived together
        var channel = new BufferedMqttChannel(socket);
        var read = new List<byte>();
        var one = new byte[1];

        // As MQTTnet reads: the header a byte at a time, then the body.
        for (var i = 0; i < 9; i++)
        {
            Assert.Equal(1, await channel.ReadAsync(one, 0, 1, CancellationToken.None));
            read.Add(one[0]);
        }

        Assert.Equal([0x30, 3, 1, 2, 3, 0x40, 2, 0, 1], read);
        Assert.Equal(1, channel.Receives);
    }

    [Fact]
    public async Task LargeRead_GetsWhatIsBuffered_ThenTheRestFromTheNextReceive()
    {
        var socket = new RecordingChannel();
        socket.Incoming.Enqueue([1, 2, 3]);
        socket.Incoming.Enqueue([4, 5]);
        var channel = new BufferedMqttChannel(socket);
        var buffer = new byte[8];

        Assert.Equal(3, await channel.ReadAsync(buffer, 0, 8, CancellationToken.None));
        Assert.Equal(2, await channel.ReadAsync(buffer, 3, 5, CancellationToken.None));

        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 0, 0, 0 }, buffer);
    }

    [Fact]
    public async Task ClosedConnection_ReadReturnsZero()
    {
        var channel = new BufferedMqttChannel(new RecordingChannel());

        Assert.Equal(0, await channel.ReadAsync(new byte[4], 0, 4, CancellationToken.None));
    }

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(1);

    [Fact]
    public async Task SlowConnection_IsReadAtOnce()
    {
        var c = new CoalescingChannel(Interval);

        // 100 bytes every 10 ms: 10 bytes per interval, far below what makes waiting pay.
        await c.ReceiveChunksAsync(20, 100, TimeSpan.FromMilliseconds(10));

        Assert.True(c.NextReadIsImmediate());
        Assert.Equal(0, c.Channel.CoalescedReceives);
    }

    [Fact]
    public async Task StreamingConnection_WaitsOneIntervalBeforeTheNextReceive()
    {
        var c = new CoalescingChannel(Interval);
        await c.StreamAsync();
        var coalescedBefore = c.Channel.CoalescedReceives;

        c.Socket.Incoming.Enqueue([1, 2, 3]);
        var read = c.Channel.ReadAsync(new byte[8], 0, 8, CancellationToken.None);
        Assert.False(read.IsCompleted);
        Assert.Single(c.Socket.Incoming); // the socket is not read during the wait

        c.Time.Advance(Interval);
        Assert.Equal(3, await read);
        Assert.Equal(coalescedBefore + 1, c.Channel.CoalescedReceives);
    }

    [Fact]
    public async Task StreamingConnection_ThatGoesQuiet_IsReadAtOnceAgain()
    {
        var c = new CoalescingChannel(Interval);
        await c.StreamAsync();

        // A quiet second, then receives: the first still waits (decided before it) and closes a
        // window whose rate is low, so the ones after it are immediate.
        c.Time.Advance(TimeSpan.FromSeconds(1));
        await c.ReceiveChunksAsync(2, 10, TimeSpan.Zero);
        var coalesced = c.Channel.CoalescedReceives;

        Assert.True(c.NextReadIsImmediate());
        Assert.Equal(coalesced, c.Channel.CoalescedReceives);
    }

    [Fact]
    public async Task ZeroInterval_NeverWaits_EvenWhenStreaming()
    {
        var c = new CoalescingChannel(TimeSpan.Zero);

        await c.StreamAsync();

        Assert.True(c.NextReadIsImmediate());
        Assert.Equal(0, c.Channel.CoalescedReceives);
    }

    [Fact]
    public async Task CancelledDuringTheWait_ThrowsAndLeavesTheDataUnread()
    {
        var c = new CoalescingChannel(Interval);
        await c.StreamAsync();
        c.Socket.Incoming.Enqueue([9]);
        using var cancel = new CancellationTokenSource();

        var read = c.Channel.ReadAsync(new byte[8], 0, 8, cancel.Token);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read);
        Assert.Single(c.Socket.Incoming);
    }

    /// <summary>A channel with read coalescing over an in-memory socket, on a fake clock.</summary>
    private sealed class CoalescingChannel
    {
        public CoalescingChannel(TimeSpan interval) => Channel = new BufferedMqttChannel(Socket, interval, Time);

        public RecordingChannel Socket { get; } = new();

        public FakeTimeProvider Time { get; } = new();

        public BufferedMqttChannel Channel { get; }

        /// <summary>1,000 bytes per millisecond for longer than the rate window.</summary>
        public Task StreamAsync() => ReceiveChunksAsync(30, 1000, Interval);

        /// <summary>Receives <paramref name="count"/> chunks of <paramref name="bytes"/>, <paramref name="gap"/> apart on the fake clock.</summary>
        public async Task ReceiveChunksAsync(int count, int bytes, TimeSpan gap)
        {
            var buffer = new byte[BufferedMqttChannel.ReadAheadBytes];
            for (var i = 0; i < count; i++)
            {
                Socket.Incoming.Enqueue(new byte[bytes]);
                var read = Channel.ReadAsync(buffer, 0, buffer.Length, CancellationToken.None);
                if (!read.IsCompleted)
                {
                    Time.Advance(Interval); // a coalescing wait, which these helpers let pass
                }

                Assert.Equal(bytes, await read);
                Time.Advance(gap);
            }
        }

        /// <summary>Whether a read of a byte that has arrived completes without waiting.</summary>
        public bool NextReadIsImmediate()
        {
            Socket.Incoming.Enqueue([1]);
            return Channel.ReadAsync(new byte[8], 0, 8, CancellationToken.None).IsCompleted;
        }
    }

    /// <summary>An in-memory socket: records each write; the first one can be held open by <see cref="Gate"/>.</summary>
    private sealed class RecordingChannel : IMqttChannel
    {
        private int _writes;

        public TaskCompletionSource? Gate { get; set; }

        public TaskCompletionSource FirstWriteStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<byte[]> Writes { get; } = [];

        public bool Disconnected { get; private set; }

        public X509Certificate2 ClientCertificate => null!;

        public EndPoint RemoteEndPoint => new IPEndPoint(IPAddress.Loopback, 1883);

        public EndPoint LocalEndPoint => new IPEndPoint(IPAddress.Loopback, 50000);

        public bool IsSecureConnection => false;

        public Task ConnectAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task DisconnectAsync(CancellationToken cancellationToken)
        {
            Disconnected = true;
            return Task.CompletedTask;
        }

        /// <summary>What each receive returns, in order; none left means the peer closed.</summary>
        public Queue<byte[]> Incoming { get; } = new();

        public Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            if (!Incoming.TryDequeue(out var chunk))
            {
                return Task.FromResult(0);
            }

            Assert.True(chunk.Length <= count, "the test's chunk must fit the channel's read-ahead");
            chunk.CopyTo(buffer, offset);
            return Task.FromResult(chunk.Length);
        }

        public async Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken)
        {
            var bytes = buffer.ToArray();
            if (Interlocked.Increment(ref _writes) == 1)
            {
                FirstWriteStarted.SetResult();
                if (Gate is not null)
                {
                    await Gate.Task;
                }
            }

            lock (Writes)
            {
                Writes.Add(bytes);
            }
        }

        public void Dispose()
        {
        }
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }
}
