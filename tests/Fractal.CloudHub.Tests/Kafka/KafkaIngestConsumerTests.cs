using Confluent.Kafka;
using Fractal.CloudHub.DataLake;
using Fractal.CloudHub.Ingest;
using Fractal.CloudHub.Ingest.Kafka;
using Fractal.Contracts.Ingest;
using Fractal.Testing;
using Fractal.Testing.Kafka;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Fractal.CloudHub.Tests.Kafka;

public sealed class KafkaIngestConsumerTests : IAsyncDisposable
{
    private readonly TimeSpan _timeout = TimeSpan.FromSeconds(20);
    private readonly KafkaMockCluster _cluster = new(brokerCount: 3);
    private readonly KafkaWire _wire;
    private readonly string _records = Unique.Name("records");
    private readonly string _losses = Unique.Name("losses");
    private readonly string _group = Unique.Name("hub");
    private readonly List<KafkaIngestConsumer> _consumers = [];

    public KafkaIngestConsumerTests()
    {
        _cluster.CreateTopic(_records, partitions: 2, replicationFactor: 3);
        _cluster.CreateTopic(_losses, partitions: 1, replicationFactor: 3);
        _wire = new KafkaWire(_cluster.BootstrapServers);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var consumer in _consumers)
        {
            await consumer.StopAsync(CancellationToken.None);
            consumer.Dispose();
        }

        _wire.Dispose();
        _cluster.Dispose();
    }

    [Fact]
    public async Task ExecuteAsync_RecordsAndLosses_WritesLakeThenCommitsOffsets()
    {
        var lake = new InMemoryDataLake();
        var consumer = Create(lake);
        var committed = WhenCommitted(consumer, 10 + 1);
        await consumer.StartAsync(CancellationToken.None);

        await _wire.RecordsAsync(_records, "node-1", "temp", 1, 6);
        await _wire.RecordsAsync(_records, "node-2", "audio", 1, 4);
        await _wire.LossesAsync(_losses, Losses("node-1", ledgerId: 3));

        await lake.WhenRecordsAsync(10).WaitAsync(_timeout);
        await committed.WaitAsync(_timeout);
        Assert.Equal([1UL, 2, 3, 4, 5, 6], lake.Sequences("node-1", "temp"));
        Assert.Equal([1UL, 2, 3, 4], lake.Sequences("node-2", "audio"));
        Assert.Equal(1, lake.LossCount);
        Assert.Equal(11, CommittedTotal());
    }

    [Fact]
    public async Task ExecuteAsync_StoppedWhileLakeWriteInFlight_CommitsNothingAndRestartRereads()
    {
        var blocked = new InMemoryDataLake { Gate = new TaskCompletionSource().Task };
        var first = Create(blocked);
        await first.StartAsync(CancellationToken.None);
        await _wire.RecordsAsync(_records, "node-1", "temp", 1, 5);

        await blocked.AppendEntered.Task.WaitAsync(_timeout);
        Assert.Equal(0, CommittedTotal());
        await first.StopAsync(CancellationToken.None);
        Assert.Equal(0, CommittedTotal());
        Assert.Equal(0, blocked.RecordCount);

        var lake = new InMemoryDataLake();
        var second = Create(lake);
        var committed = WhenCommitted(second, 5);
        await second.StartAsync(CancellationToken.None);

        await lake.WhenRecordsAsync(5).WaitAsync(_timeout);
        await committed.WaitAsync(_timeout);
        Assert.Equal([1UL, 2, 3, 4, 5], lake.Sequences("node-1", "temp"));
        Assert.Equal(5, CommittedTotal());
    }

    [Fact]
    public async Task ExecuteAsync_LakeWriteFails_RereadsAndCommitsOnlyAfterSuccessfulWrite()
    {
        var lake = new InMemoryDataLake { FailuresToInject = 1 };
        var consumer = Create(lake, o => o.RetryDelay = TimeSpan.FromMilliseconds(50));
        var successfulWritesAtCommit = new List<int>();
        consumer.OffsetsCommitted += _ =>
        {
            lock (successfulWritesAtCommit)
            {
                successfulWritesAtCommit.Add(lake.SucceededCalls);
            }
        };
        var committed = WhenCommitted(consumer, 5);
        await consumer.StartAsync(CancellationToken.None);

        await _wire.RecordsAsync(_records, "node-1", "temp", 1, 5);

        await lake.WhenRecordsAsync(5).WaitAsync(_timeout);
        await committed.WaitAsync(_timeout);
        Assert.Equal(1, lake.FailedCalls);
        Assert.Equal([1UL, 2, 3, 4, 5], lake.Sequences("node-1", "temp"));
        lock (successfulWritesAtCommit)
        {
            Assert.All(successfulWritesAtCommit, writes => Assert.True(writes >= 1));
        }

        Assert.Equal(5, CommittedTotal());
    }

    [Fact]
    public async Task ExecuteAsync_HostileMessages_DeadLetteredCountedSkippedAndConsumerKeepsRunning()
    {
        var lake = new InMemoryDataLake();
        var logger = new ListLogger<KafkaIngestConsumer>();
        var consumer = Create(lake, logger: logger);
        var random = new Random(4711);
        var noise = new byte[64];
        random.NextBytes(noise);
        var seven = KafkaWire.Record(7).ToByteArray();
        const string key = "node-1/temp";

        await _wire.RecordsAsync(_records, "node-1", "temp", 1, 3);
        // Random bytes, no headers at all.
        await _wire.RawAsync(_records, noise[..16], noise);
        // A truncated protobuf (field 4, length 16, no bytes) under correct headers.
        await _wire.RawAsync(_records, key, [0x22, 0x10], ("fractal-node", "node-1"), ("fractal-stream", "temp"), ("fractal-seq", "4"));
        // fractal-seq missing.
        await _wire.RawAsync(_records, key, seven, ("fractal-node", "node-1"), ("fractal-stream", "temp"));
        // fractal-seq of the wrong type: text, then a binary little-endian ulong.
        await _wire.RawAsync(_records, key, seven, ("fractal-node", "node-1"), ("fractal-stream", "temp"), ("fractal-seq", "seven"));
        await _wire.RawAsync(_records, System.Text.Encoding.UTF8.GetBytes(key), seven, ("fractal-node", "node-1"u8.ToArray()), ("fractal-stream", "temp"u8.ToArray()), ("fractal-seq", BitConverter.GetBytes(7UL)));
        // Header sequence differs from the value's.
        await _wire.RawAsync(_records, key, seven, ("fractal-node", "node-1"), ("fractal-stream", "temp"), ("fractal-seq", "8"));
        // Key differs from the headers.
        await _wire.RawAsync(_records, "node-9/temp", seven, ("fractal-node", "node-1"), ("fractal-stream", "temp"), ("fractal-seq", "7"));
        // A node id that would escape its lake partition.
        await _wire.RawAsync(_records, "../etc/temp", seven, ("fractal-node", "../etc"), ("fractal-stream", "temp"), ("fractal-seq", "7"));
        // Garbage on the losses topic.
        await _wire.RawAsync(_losses, "node-1", noise);
        await _wire.RecordsAsync(_records, "node-1", "temp", 4, 6);
        const int hostile = 9;

        var committed = WhenCommitted(consumer, 6 + hostile);
        await consumer.StartAsync(CancellationToken.None);
        await lake.WhenRecordsAsync(6).WaitAsync(_timeout);
        await committed.WaitAsync(_timeout);

        Assert.Equal(hostile, consumer.DeadLetterCount);
        Assert.Equal([1UL, 2, 3, 4, 5, 6], lake.Sequences("node-1", "temp"));
        Assert.Equal(6 + hostile, CommittedTotal());
        var deadLetterLines = logger.Entries.Where(e => e.Message.Contains("dead-lettered", StringComparison.Ordinal)).Select(e => e.Message).ToList();
        Assert.Equal(hostile, deadLetterLines.Count);
        Assert.Contains(deadLetterLines, m => m.Contains("header fractal-node is missing", StringComparison.Ordinal));
        Assert.Contains(deadLetterLines, m => m.Contains("not a SensorRecord", StringComparison.Ordinal));
        Assert.Contains(deadLetterLines, m => m.Contains("'seven' is not a decimal sequence number", StringComparison.Ordinal));
        Assert.Contains(deadLetterLines, m => m.Contains("fractal-seq 8 differs from the value's sequence 7", StringComparison.Ordinal));
        Assert.Contains(deadLetterLines, m => m.Contains("(BadKey)", StringComparison.Ordinal));
        Assert.Contains(deadLetterLines, m => m.Contains("(Invalid)", StringComparison.Ordinal));

        // Still consuming after all of that.
        await _wire.RecordsAsync(_records, "node-1", "temp", 7, 7);
        await lake.WhenRecordsAsync(7).WaitAsync(_timeout);
        Assert.False(consumer.ExecuteTask!.IsCompleted);
    }

    [Fact]
    public async Task ExecuteAsync_ManyRecordsWaiting_GroupsConsecutiveRecordsIntoAscendingBatches()
    {
        await _wire.RecordsAsync(_records, "node-1", "temp", 1, 40);
        await _wire.RecordsAsync(_records, "node-2", "temp", 1, 40);
        // An agent's retry after a lost acknowledgement: 31..40 again.
        await _wire.RecordsAsync(_records, "node-1", "temp", 31, 40);
        var lake = new InMemoryDataLake();
        var consumer = Create(lake);
        var committed = WhenCommitted(consumer, 90);

        await consumer.StartAsync(CancellationToken.None);
        await lake.WhenRecordsAsync(80).WaitAsync(_timeout);
        await committed.WaitAsync(_timeout);

        var calls = lake.CallsSnapshot();
        Assert.True(calls.Count <= 12, $"{calls.Count} lake calls for 90 records");
        Assert.All(calls, c => Assert.True(c.Sequences.Zip(c.Sequences.Skip(1)).All(p => p.First < p.Second), $"not ascending: {string.Join(',', c.Sequences)}"));
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (ulong)i), lake.Sequences("node-1", "temp"));
        Assert.Equal(Enumerable.Range(1, 40).Select(i => (ulong)i), lake.Sequences("node-2", "temp"));
        Assert.Equal(10, consumer.DuplicateCount);
    }

    [Fact]
    public async Task ExecuteAsync_ParquetLakeAndRedeliveredRecords_LakeHoldsEachRecordOnce()
    {
        using var directory = new TestDirectory("kafka-lake");
        var lake = new ParquetDataLake(new LocalDirectoryBlobStore(directory.Path, NullLogger<LocalDirectoryBlobStore>.Instance), NullLogger<ParquetDataLake>.Instance);
        var consumer = Create(lake);
        var committed = WhenCommitted(consumer, 15 + 2);
        await consumer.StartAsync(CancellationToken.None);

        await _wire.RecordsAsync(_records, "node-1", "temp", 1, 10);
        await _wire.RecordsAsync(_records, "node-1", "temp", 6, 10);
        await _wire.LossesAsync(_losses, Losses("node-1", ledgerId: 1));
        await _wire.LossesAsync(_losses, Losses("node-1", ledgerId: 1));
        await committed.WaitAsync(_timeout);

        var stored = new List<LakeRecord>();
        await foreach (var record in lake.ReadRecordsAsync("temp", "node-1", CancellationToken.None))
        {
            stored.Add(record);
        }

        Assert.Equal(Enumerable.Range(1, 10).Select(i => (ulong)i), stored.Select(r => r.Sequence).Order());
        Assert.Equal(KafkaWire.Record(3).Label, stored.Single(r => r.Sequence == 3).Label);
        var losses = await lake.ReadLossesAsync("node-1", CancellationToken.None);
        Assert.Equal(1UL, Assert.Single(losses).LedgerId);
    }

    [Fact]
    public async Task ExecuteAsync_LossesTopicMissing_ReportsAndKeepsConsumingRecords()
    {
        var lake = new InMemoryDataLake();
        var logger = new ListLogger<KafkaIngestConsumer>();
        var consumer = Create(lake, o => o.LossesTopic = Unique.Name("missing"), logger);
        await consumer.StartAsync(CancellationToken.None);

        await _wire.RecordsAsync(_records, "node-1", "temp", 1, 3);

        await lake.WhenRecordsAsync(3).WaitAsync(_timeout);
        Assert.False(consumer.ExecuteTask!.IsCompleted);
        Assert.Contains(logger.Entries, e => e.Message.Contains("Unknown topic", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task ExecuteAsync_BootstrapServersEmpty_CompletesWithoutConsuming()
    {
        var lake = new InMemoryDataLake();
        var consumer = Create(lake, o => o.BootstrapServers = string.Empty);

        await consumer.StartAsync(CancellationToken.None);

        await consumer.ExecuteTask!.WaitAsync(_timeout);
        Assert.True(consumer.ExecuteTask.IsCompletedSuccessfully);
        Assert.Empty(lake.CallsSnapshot());
    }

    private KafkaIngestConsumer Create(IDataLake lake, Action<KafkaIngestOptions>? configure = null, ILogger<KafkaIngestConsumer>? logger = null)
    {
        var options = new KafkaIngestOptions
        {
            BootstrapServers = _cluster.BootstrapServers,
            GroupId = _group,
            RecordsTopic = _records,
            LossesTopic = _losses,
            MaxBatchDelay = TimeSpan.FromMilliseconds(100),
        };

        // The mock cluster holds a group that lost its last member (a clean LeaveGroup included)
        // in rebalance for session.timeout.ms - 1 s before a new member's join completes; a short
        // session keeps restart tests fast.
        options.Properties["session.timeout.ms"] = "2000";
        options.Properties["heartbeat.interval.ms"] = "500";
        configure?.Invoke(options);
        var consumer = new KafkaIngestConsumer(lake, Options.Create(options), Options.Create(new IngestOptions()), TimeProvider.System, logger ?? NullLogger<KafkaIngestConsumer>.Instance);
        _consumers.Add(consumer);
        return consumer;
    }

    /// <summary>Completes once the consumer has committed offsets covering <paramref name="messages"/> messages.</summary>
    private static Task WhenCommitted(KafkaIngestConsumer consumer, long messages)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var latest = new Dictionary<TopicPartition, long>();
        consumer.OffsetsCommitted += offsets =>
        {
            lock (latest)
            {
                foreach (var offset in offsets)
                {
                    latest[offset.TopicPartition] = offset.Offset.Value;
                }

                if (latest.Values.Sum() >= messages)
                {
                    done.TrySetResult();
                }
            }
        };
        return done.Task;
    }

    /// <summary>Offsets the broker holds for the group, summed over both topics' partitions.</summary>
    private long CommittedTotal()
    {
        using var reader = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = _cluster.BootstrapServers, GroupId = _group }).Build();
        var partitions = new[] { new TopicPartition(_records, 0), new TopicPartition(_records, 1), new TopicPartition(_losses, 0) };
        return reader.Committed(partitions, TimeSpan.FromSeconds(10)).Sum(o => o.Offset == Offset.Unset ? 0 : o.Offset.Value);
    }

    private static LossReport Losses(string node, ulong ledgerId) => new()
    {
        NodeId = node,
        Entries = { new LossEntry { Stream = "temp", Sequences = { 100, 101 }, Reason = "evicted", LostAtUnixMs = 1_700_000_000_000, LedgerId = ledgerId, Bytes = 128 } },
    };
}
