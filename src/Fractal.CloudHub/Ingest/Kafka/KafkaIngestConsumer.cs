using System.Diagnostics.Metrics;
using Confluent.Kafka;
using Fractal.CloudHub.DataLake;
using Fractal.Contracts.Ingest;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fractal.CloudHub.Ingest.Kafka;

/// <summary>
/// Reads the agents' records and loss reports from Kafka as one consumer-group member and writes
/// them into the data lake. Offsets are committed only after the lake returned from the write of
/// every message up to them, so a crash re-reads (and the lake de-duplicates) instead of losing.
/// </summary>
/// <remarks>
/// Loop: read a window (up to <see cref="KafkaIngestOptions.MaxBatchMessages"/>, or until
/// <see cref="KafkaIngestOptions.MaxBatchDelay"/> after its first message) on the consumer's own
/// thread; group consecutive records of one (node, stream) into runs of ascending sequence; append
/// the runs and loss reports; commit the window's next offsets. Malformed messages are counted,
/// logged with a reason and committed with the window, so a hostile message never blocks a
/// partition. A lake failure commits nothing: the consumer seeks back and reads the window again.
/// </remarks>
internal sealed partial class KafkaIngestConsumer : BackgroundService
{
    private static readonly Meter Meter = new("Fractal.CloudHub.Ingest.Kafka");
    private static readonly Counter<long> DeadLetters = Meter.CreateCounter<long>("fractal.ingest.kafka.dead_letters", description: "Kafka messages skipped as malformed, by reason");
    private static readonly Counter<long> RecordsAccepted = Meter.CreateCounter<long>("fractal.ingest.kafka.records", description: "Records written to the lake from Kafka");

    private readonly IDataLake _lake;
    private readonly KafkaIngestOptions _options;
    private readonly IngestOptions _limits;
    private readonly TimeProvider _time;
    private readonly ILogger<KafkaIngestConsumer> _logger;
    private long _deadLetterCount;
    private long _recordCount;
    private long _duplicateCount;
    private volatile Error? _fatal;

    // Touched only on the consumer thread: the window being read, so revocations can drop from it.
    private List<IngestItem>? _reading;

    public KafkaIngestConsumer(IDataLake lake, IOptions<KafkaIngestOptions> options, IOptions<IngestOptions> limits, TimeProvider time, ILogger<KafkaIngestConsumer> logger)
    {
        ArgumentNullException.ThrowIfNull(lake);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        _lake = lake;
        _options = options.Value;
        _limits = limits.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>Raised (off the consumer thread) after offsets were committed to the group.</summary>
    internal event Action<IReadOnlyList<TopicPartitionOffset>>? OffsetsCommitted;

    /// <summary>Messages skipped as malformed since start.</summary>
    internal long DeadLetterCount => Interlocked.Read(ref _deadLetterCount);

    /// <summary>Records the lake accepted as new since start.</summary>
    internal long RecordCount => Interlocked.Read(ref _recordCount);

    /// <summary>Records the lake dropped as already present since start.</summary>
    internal long DuplicateCount => Interlocked.Read(ref _duplicateCount);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled)
        {
            Log.Disabled(_logger);
            return;
        }

        await using var thread = new ConsumerThread();
        var consumer = await thread.RunAsync(Subscribe);
        try
        {
            await RunAsync(thread, consumer, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutdown. Anything read but not written stays uncommitted and is read again.
        }
        finally
        {
            await thread.RunAsync(() =>
            {
                _reading = null;
                try
                {
                    // Leaves the group now, so the partitions move to another hub without
                    // waiting for the session timeout.
                    consumer.Close();
                }
                finally
                {
                    consumer.Dispose();
                }
            });
            Log.Stopped(_logger, RecordCount, DuplicateCount, DeadLetterCount);
        }
    }

    private async Task RunAsync(ConsumerThread thread, IConsumer<byte[], byte[]> consumer, CancellationToken stoppingToken)
    {
        while (true)
        {
            stoppingToken.ThrowIfCancellationRequested();
            if (_fatal is { } fatal)
            {
                // Fatal consumer errors (e.g. fenced static membership) do not heal: stop the
                // host, systemd restarts it with a new consumer.
                throw new KafkaException(fatal);
            }

            var window = await thread.RunAsync(() => ReadWindow(consumer, stoppingToken));
            if (window.Count == 0)
            {
                continue;
            }

            try
            {
                await WriteAsync(window, stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                // Nothing of the window is committed; read it again from its first offsets.
                Log.WriteFailed(_logger, ex, window.Count, _options.RetryDelay);
                await thread.RunAsync(() => Rewind(consumer, window));
                await Task.Delay(_options.RetryDelay, _time, stoppingToken);
                continue;
            }

            var offsets = NextOffsets(window);
            var committed = await thread.RunAsync(() => Commit(consumer, offsets));
            if (committed)
            {
                OffsetsCommitted?.Invoke(offsets);
            }
        }
    }

    private IConsumer<byte[], byte[]> Subscribe()
    {
        var config = new ConsumerConfig(new Dictionary<string, string>(_options.Properties, StringComparer.Ordinal))
        {
            BootstrapServers = _options.BootstrapServers,
            GroupId = _options.GroupId,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnablePartitionEof = false,
            IsolationLevel = IsolationLevel.ReadCommitted,
        };
        config.ClientId ??= "fractal-hub";

        // Byte arrays for key and value: a hostile key must become a dead letter, not a
        // deserialization exception.
        var consumer = new ConsumerBuilder<byte[], byte[]>(config)
            .SetErrorHandler(OnError)
            .SetLogHandler(OnLog)
            .SetPartitionsAssignedHandler((_, partitions) => Log.Assigned(_logger, string.Join(", ", partitions)))
            .SetPartitionsRevokedHandler((_, partitions) => Drop(partitions.Select(p => p.TopicPartition), "revoked"))
            .SetPartitionsLostHandler((_, partitions) => Drop(partitions.Select(p => p.TopicPartition), "lost"))
            .Build();
        consumer.Subscribe([_options.RecordsTopic, _options.LossesTopic]);
        Log.Started(_logger, _options.BootstrapServers, _options.GroupId, _options.RecordsTopic, _options.LossesTopic);
        return consumer;
    }

    private List<IngestItem> ReadWindow(IConsumer<byte[], byte[]> consumer, CancellationToken stoppingToken)
    {
        var window = new List<IngestItem>();
        _reading = window;
        try
        {
            // Block until the first message (or shutdown); then fill the window for a bounded time.
            if (TryConsume(() => consumer.Consume(stoppingToken)) is not { } first)
            {
                return window;
            }

            window.Add(KafkaIngestMessages.Classify(first, _options, _limits));
            var started = _time.GetTimestamp();
            while (window.Count < _options.MaxBatchMessages)
            {
                var remaining = _options.MaxBatchDelay - _time.GetElapsedTime(started);
                if (remaining <= TimeSpan.Zero || TryConsume(() => consumer.Consume(remaining)) is not { } next)
                {
                    break;
                }

                window.Add(KafkaIngestMessages.Classify(next, _options, _limits));
            }

            return window;
        }
        finally
        {
            _reading = null;
        }
    }

    private ConsumeResult<byte[], byte[]>? TryConsume(Func<ConsumeResult<byte[], byte[]>?> consume)
    {
        try
        {
            return consume();
        }
        catch (ConsumeException ex) when (!ex.Error.IsFatal)
        {
            // Errors delivered through Consume (a subscribed topic missing, a broker-side fetch
            // error) are reported and retried by librdkafka; the loop goes on. Fatal ones stop
            // the host.
            Log.ConsumeError(_logger, ex.Error.Code, ex.Error.Reason);
            return null;
        }
    }

    private void Drop(IEnumerable<TopicPartition> partitions, string why)
    {
        var set = partitions.ToHashSet();
        Log.Revoked(_logger, why, string.Join(", ", set));

        // Messages of partitions we no longer own are neither written nor committed here: the new
        // owner reads them from the last commit.
        _reading?.RemoveAll(item => set.Contains(item.Position.TopicPartition));
    }

    private async Task WriteAsync(List<IngestItem> window, CancellationToken cancellationToken)
    {
        var runs = new List<Run>();
        var open = new Dictionary<(string Node, string Stream), Run>();
        var losses = new List<(string Node, List<LossEntry> Entries)>();
        foreach (var item in window)
        {
            if (item.Record is { } record)
            {
                var key = (item.NodeId!, item.Stream!);

                // A run is ascending: a lower or repeated sequence (an agent's retry of a batch)
                // starts a new run, which the lake then mostly drops as duplicates.
                if (!open.TryGetValue(key, out var run) || record.Sequence <= run.Records[^1].Sequence)
                {
                    run = new Run(key.Item1, key.Item2, []);
                    open[key] = run;
                    runs.Add(run);
                }

                run.Records.Add(record);
            }
            else if (item.Losses is { } report)
            {
                if (losses.Count > 0 && string.Equals(losses[^1].Node, report.NodeId, StringComparison.Ordinal))
                {
                    losses[^1].Entries.AddRange(report.Entries);
                }
                else
                {
                    losses.Add((report.NodeId, [.. report.Entries]));
                }
            }
        }

        foreach (var run in runs)
        {
            var result = await _lake.AppendAsync(run.Node, run.Stream, run.Records, cancellationToken);
            Interlocked.Add(ref _recordCount, result.Accepted);
            Interlocked.Add(ref _duplicateCount, result.Duplicates);
            RecordsAccepted.Add(result.Accepted);
            Log.RunWritten(_logger, run.Node, run.Stream, run.Records[0].Sequence, run.Records[^1].Sequence, result.Accepted, result.Duplicates);
        }

        foreach (var (node, entries) in losses)
        {
            if (entries.Count > 0)
            {
                await _lake.AppendLossesAsync(node, entries, cancellationToken);
            }
        }

        // Dead letters are settled with the window: logged and counted once its writes succeeded,
        // committed with it.
        foreach (var item in window)
        {
            if (item.DeadLetter is { } reason)
            {
                Interlocked.Increment(ref _deadLetterCount);
                DeadLetters.Add(1, new KeyValuePair<string, object?>("reason", reason.ToString()));
                Log.DeadLetter(_logger, item.Position.Topic, item.Position.Partition.Value, item.Position.Offset.Value, reason, item.Detail ?? string.Empty);
            }
        }
    }

    private static List<TopicPartitionOffset> NextOffsets(List<IngestItem> window)
        => [.. window
            .GroupBy(item => item.Position.TopicPartition)
            .Select(g => new TopicPartitionOffset(g.Key, g.Max(item => item.Position.Offset.Value) + 1))];

    private bool Commit(IConsumer<byte[], byte[]> consumer, List<TopicPartitionOffset> offsets)
    {
        try
        {
            consumer.Commit(offsets);
            return true;
        }
        catch (KafkaException ex)
        {
            // Typically a rebalance took the partitions meanwhile. The lake already has the data;
            // the new owner re-reads from the last commit and the lake drops the duplicates.
            Log.CommitFailed(_logger, ex, ex.Error.Code, string.Join(", ", offsets));
            return false;
        }
    }

    private void Rewind(IConsumer<byte[], byte[]> consumer, List<IngestItem> window)
    {
        foreach (var group in window.GroupBy(item => item.Position.TopicPartition))
        {
            var offset = group.Min(item => item.Position.Offset.Value);
            try
            {
                consumer.Seek(new TopicPartitionOffset(group.Key, offset));
            }
            catch (KafkaException ex)
            {
                // Not assigned any more: its new owner starts from the last commit anyway.
                Log.SeekFailed(_logger, ex, group.Key.ToString(), ex.Error.Code);
            }
        }
    }

    private void OnError(IConsumer<byte[], byte[]> consumer, Error error)
    {
        if (error.IsFatal)
        {
            _fatal = error;
            Log.ConsumerFatal(_logger, error.Code, error.Reason);
        }
        else
        {
            Log.ConsumerError(_logger, error.Code, error.Reason);
        }
    }

    private void OnLog(IConsumer<byte[], byte[]> consumer, LogMessage message)
    {
        var level = message.Level switch
        {
            SyslogLevel.Emergency or SyslogLevel.Alert or SyslogLevel.Critical => LogLevel.Critical,
            SyslogLevel.Error => LogLevel.Error,
            SyslogLevel.Warning => LogLevel.Warning,
            SyslogLevel.Notice or SyslogLevel.Info => LogLevel.Information,
            _ => LogLevel.Debug,
        };
        Log.Librdkafka(_logger, level, message.Facility, message.Message);
    }

    private sealed record Run(string Node, string Stream, List<SensorRecord> Records);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Kafka ingest disabled (Ingest:Kafka:BootstrapServers is empty)")]
        public static partial void Disabled(ILogger logger);

        [LoggerMessage(2, LogLevel.Information, "Kafka ingest consuming {RecordsTopic} and {LossesTopic} from {BootstrapServers} as group {GroupId}")]
        public static partial void Started(ILogger logger, string bootstrapServers, string groupId, string recordsTopic, string lossesTopic);

        [LoggerMessage(3, LogLevel.Information, "Kafka ingest stopped: {Records} records written, {Duplicates} duplicates dropped, {DeadLetters} messages dead-lettered")]
        public static partial void Stopped(ILogger logger, long records, long duplicates, long deadLetters);

        [LoggerMessage(4, LogLevel.Warning, "Kafka message {Topic}[{Partition}]@{Offset} dead-lettered ({Reason}): {Detail}")]
        public static partial void DeadLetter(ILogger logger, string topic, int partition, long offset, DeadLetterReason reason, string detail);

        [LoggerMessage(5, LogLevel.Debug, "Wrote node {Node} stream {Stream} sequences {First}..{Last}: {Accepted} new, {Duplicates} duplicates")]
        public static partial void RunWritten(ILogger logger, string node, string stream, ulong first, ulong last, int accepted, int duplicates);

        [LoggerMessage(6, LogLevel.Error, "Writing {Count} Kafka messages to the lake failed; nothing committed, reading them again in {Delay}")]
        public static partial void WriteFailed(ILogger logger, Exception exception, int count, TimeSpan delay);

        [LoggerMessage(7, LogLevel.Warning, "Kafka offset commit failed ({Code}) for {Offsets}; the messages will be read again and de-duplicated by the lake")]
        public static partial void CommitFailed(ILogger logger, Exception exception, ErrorCode code, string offsets);

        [LoggerMessage(8, LogLevel.Warning, "Kafka seek on {Partition} failed ({Code})")]
        public static partial void SeekFailed(ILogger logger, Exception exception, string partition, ErrorCode code);

        [LoggerMessage(9, LogLevel.Information, "Kafka partitions assigned: {Partitions}")]
        public static partial void Assigned(ILogger logger, string partitions);

        [LoggerMessage(10, LogLevel.Information, "Kafka partitions {Why}: {Partitions}")]
        public static partial void Revoked(ILogger logger, string why, string partitions);

        [LoggerMessage(11, LogLevel.Critical, "Kafka consumer fatal error {Code}: {Reason}")]
        public static partial void ConsumerFatal(ILogger logger, ErrorCode code, string reason);

        [LoggerMessage(12, LogLevel.Warning, "Kafka consumer error {Code}: {Reason}")]
        public static partial void ConsumerError(ILogger logger, ErrorCode code, string reason);

        [LoggerMessage(14, LogLevel.Warning, "Kafka consume error {Code}: {Reason}")]
        public static partial void ConsumeError(ILogger logger, ErrorCode code, string reason);

        [LoggerMessage(EventId = 13, Message = "librdkafka {Facility}: {Message}")]
        public static partial void Librdkafka(ILogger logger, LogLevel level, string facility, string message);
    }
}
