using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Fractal.Contracts.Ingest;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync.Uplinks.Kafka;

/// <summary>
/// Writes buffered batches to Kafka through one idempotent producer (acks=all). A call returns
/// only when every message of it has a successful delivery report, so the uplink worker may
/// advance its checkpoint; otherwise it throws and the worker sends the batch again.
/// </summary>
/// <remarks>
/// Records go to <see cref="KafkaUplinkOptions.RecordsTopic"/> with key <c>{node}/{stream}</c>, so
/// one stream of one node stays on one partition and in order (idempotence keeps order across
/// the producer's internal retries). Headers repeat node, stream and sequence so the hub can check
/// a message before it parses the value.
/// </remarks>
internal sealed partial class KafkaUplinkTransport : IUplinkTransport, IDisposable
{
    internal const string NodeHeader = "fractal-node";
    internal const string StreamHeader = "fractal-stream";
    internal const string SequenceHeader = "fractal-seq";

    private readonly KafkaUplinkOptions _options;
    private readonly ILogger<KafkaUplinkTransport> _logger;
    private readonly Lock _lock = new();
    private IProducer<string, byte[]>? _producer;
    private int _producerFatal;
    private bool _disposed;

    public KafkaUplinkTransport(IOptions<KafkaUplinkOptions> options, ILogger<KafkaUplinkTransport> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _options = options.Value;
        _logger = logger;
    }

    public string Name => "kafka";

    public async Task SendBatchAsync(RecordBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ValidateNode(batch.NodeId);
        ArgumentException.ThrowIfNullOrEmpty(batch.Stream, nameof(batch));
        cancellationToken.ThrowIfCancellationRequested();
        if (batch.Records.Count == 0)
        {
            return;
        }

        var producer = GetProducer();
        var key = $"{batch.NodeId}/{batch.Stream}";
        var node = Encoding.UTF8.GetBytes(batch.NodeId);
        var stream = Encoding.UTF8.GetBytes(batch.Stream);
        var tracker = new DeliveryTracker(batch.Records.Count);
        for (var i = 0; i < batch.Records.Count; i++)
        {
            var record = batch.Records[i];
            var message = new Message<string, byte[]>
            {
                Key = key,
                Value = record.ToByteArray(),
                Headers = new Headers
                {
                    { NodeHeader, node },
                    { StreamHeader, stream },
                    { SequenceHeader, Encoding.ASCII.GetBytes(record.Sequence.ToString(CultureInfo.InvariantCulture)) },
                },
            };

            if (!TryProduce(producer, _options.RecordsTopic, message, tracker))
            {
                tracker.NotProduced(batch.Records.Count - i - 1);
                break;
            }
        }

        // Cancellation stops the wait, not the messages: they may still be written, and the
        // worker's retry of this batch then duplicates them, which the hub drops.
        await tracker.Completion.WaitAsync(cancellationToken);
        if (tracker.FirstError is { } error)
        {
            var first = batch.Records[0].Sequence;
            var last = batch.Records[^1].Sequence;
            Log.BatchFailed(_logger, batch.NodeId, batch.Stream, first, last, tracker.Failed, batch.Records.Count, error.Code, error.Reason);
            throw new KafkaUplinkException(
                $"Kafka did not acknowledge {tracker.Failed} of {batch.Records.Count} records of node '{batch.NodeId}' stream '{batch.Stream}' " +
                $"(sequences {first}..{last}) on topic '{_options.RecordsTopic}': {error.Code}: {error.Reason} " +
                $"(message timeout {_options.MessageTimeout}, bootstrap '{_options.BootstrapServers}').",
                error,
                tracker.Failed,
                batch.Records.Count);
        }

        Log.BatchDelivered(_logger, batch.NodeId, batch.Stream, batch.Records.Count, batch.Records[^1].Sequence);
    }

    public async Task SendLossesAsync(LossReport report, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(report);
        ValidateNode(report.NodeId);
        cancellationToken.ThrowIfCancellationRequested();
        if (report.Entries.Count == 0)
        {
            return;
        }

        var producer = GetProducer();
        var tracker = new DeliveryTracker(1);
        var message = new Message<string, byte[]>
        {
            Key = report.NodeId,
            Value = report.ToByteArray(),
            Headers = new Headers { { NodeHeader, Encoding.UTF8.GetBytes(report.NodeId) } },
        };
        TryProduce(producer, _options.LossesTopic, message, tracker);
        await tracker.Completion.WaitAsync(cancellationToken);
        if (tracker.FirstError is { } error)
        {
            throw new KafkaUplinkException(
                $"Kafka did not acknowledge the loss report of node '{report.NodeId}' ({report.Entries.Count} entries, last ledger id " +
                $"{report.Entries[^1].LedgerId}) on topic '{_options.LossesTopic}': {error.Code}: {error.Reason}.",
                error,
                1,
                1);
        }
    }

    public void Dispose()
    {
        IProducer<string, byte[]>? producer;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            producer = _producer;
            _producer = null;
        }

        if (producer is null)
        {
            return;
        }

        // Whatever is not acknowledged now is sent again after restart: the buffer checkpoint
        // only advances on a returned SendBatchAsync.
        var remaining = producer.Flush(_options.ShutdownFlushTimeout);
        if (remaining > 0)
        {
            Log.FlushIncomplete(_logger, remaining, _options.ShutdownFlushTimeout);
        }

        producer.Dispose();
    }

    private static bool TryProduce(IProducer<string, byte[]> producer, string topic, Message<string, byte[]> message, DeliveryTracker tracker)
    {
        try
        {
            producer.Produce(topic, message, tracker.OnReport);
            return true;
        }
        catch (ProduceException<string, byte[]> ex)
        {
            // Refused locally (queue full, message too large): nothing of this message was sent.
            tracker.NotProduced(1, ex.Error);
            return false;
        }
        catch (KafkaException ex)
        {
            tracker.NotProduced(1, ex.Error);
            return false;
        }
    }

    private static void ValidateNode(string nodeId)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeId);
        if (nodeId.Contains('/', StringComparison.Ordinal))
        {
            // The record key is "{node}/{stream}"; a '/' in the node id would make it ambiguous.
            throw new ArgumentException($"Node id '{nodeId}' must not contain '/'.", nameof(nodeId));
        }
    }

    private IProducer<string, byte[]> GetProducer()
    {
        IProducer<string, byte[]>? broken = null;
        IProducer<string, byte[]> producer;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_producer is not null && Volatile.Read(ref _producerFatal) != 0)
            {
                // A fatal idempotence error (for example an out-of-order sequence the broker
                // refused) leaves the instance unusable; a new one gets a new producer id.
                broken = _producer;
                _producer = null;
            }

            if (_producer is null)
            {
                Volatile.Write(ref _producerFatal, 0);
                _producer = Build();
                Log.ProducerCreated(_logger, _options.BootstrapServers, _options.Compression);
            }

            producer = _producer;
        }

        broken?.Dispose();
        return producer;
    }

    private IProducer<string, byte[]> Build()
    {
        LibrdkafkaResolver.EnsureInstalled();
        var config = new ProducerConfig(new Dictionary<string, string>(_options.Properties, StringComparer.Ordinal))
        {
            BootstrapServers = _options.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = _options.Linger.TotalMilliseconds,
            BatchSize = _options.BatchSizeBytes,
            CompressionType = _options.Compression == KafkaUplinkCompression.Zstd ? CompressionType.Zstd : CompressionType.Lz4,
            MessageTimeoutMs = (int)_options.MessageTimeout.TotalMilliseconds,
            ReconnectBackoffMaxMs = (int)_options.ReconnectBackoffMax.TotalMilliseconds,
            EnableDeliveryReports = true,
            DeliveryReportFields = "status",
        };
        config.ClientId ??= "fractal-agent";

        return new ProducerBuilder<string, byte[]>(config)
            .SetErrorHandler(OnError)
            .SetLogHandler(OnLog)
            .Build();
    }

    private void OnError(IProducer<string, byte[]> producer, Error error)
    {
        if (error.IsFatal)
        {
            Volatile.Write(ref _producerFatal, 1);
            Log.ProducerFatal(_logger, error.Code, error.Reason);
        }
        else
        {
            // Transient (broker down, all brokers down): librdkafka retries by itself; the delivery
            // reports of the affected calls carry the outcome.
            Log.ProducerError(_logger, error.Code, error.Reason);
        }
    }

    private void OnLog(IProducer<string, byte[]> producer, LogMessage message)
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

    /// <summary>Counts delivery reports of one call; completes when the last one arrived.</summary>
    private sealed class DeliveryTracker
    {
        private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _pending;
        private int _failed;
        private Error? _firstError;

        public DeliveryTracker(int count) => _pending = count;

        public Task Completion => _completion.Task;

        public int Failed => Volatile.Read(ref _failed);

        public Error? FirstError => Volatile.Read(ref _firstError);

        // Runs on the producer's poll thread: keep it short.
        public void OnReport(DeliveryReport<string, byte[]> report)
        {
            if (report.Error.IsError || report.Status != PersistenceStatus.Persisted)
            {
                Fail(1, report.Error.IsError ? report.Error : new Error(ErrorCode.Unknown, $"delivery status {report.Status}"));
            }

            Done(1);
        }

        public void NotProduced(int count, Error? error = null)
        {
            if (count == 0)
            {
                return;
            }

            Fail(count, error ?? new Error(ErrorCode.Local_Fail, "not produced after an earlier local refusal"));
            Done(count);
        }

        private void Fail(int count, Error error)
        {
            Interlocked.Add(ref _failed, count);
            Interlocked.CompareExchange(ref _firstError, error, null);
        }

        private void Done(int count)
        {
            if (Interlocked.Add(ref _pending, -count) == 0)
            {
                _completion.TrySetResult();
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Kafka producer created for {BootstrapServers} (idempotent, acks=all, {Compression})")]
        public static partial void ProducerCreated(ILogger logger, string bootstrapServers, KafkaUplinkCompression compression);

        [LoggerMessage(2, LogLevel.Debug, "Kafka acknowledged {Count} records of node {Node} stream {Stream} up to sequence {LastSequence}")]
        public static partial void BatchDelivered(ILogger logger, string node, string stream, int count, ulong lastSequence);

        [LoggerMessage(3, LogLevel.Warning, "Kafka batch of node {Node} stream {Stream} sequences {First}..{Last} failed: {Failed} of {Total} not acknowledged, {Code}: {Reason}")]
        public static partial void BatchFailed(ILogger logger, string node, string stream, ulong first, ulong last, int failed, int total, ErrorCode code, string reason);

        [LoggerMessage(4, LogLevel.Error, "Kafka producer fatal error {Code}: {Reason}; the producer is recreated on the next call")]
        public static partial void ProducerFatal(ILogger logger, ErrorCode code, string reason);

        [LoggerMessage(5, LogLevel.Warning, "Kafka producer error {Code}: {Reason}")]
        public static partial void ProducerError(ILogger logger, ErrorCode code, string reason);

        [LoggerMessage(6, LogLevel.Warning, "Kafka producer shut down with {Remaining} messages unacknowledged after {Timeout}; they are sent again after restart")]
        public static partial void FlushIncomplete(ILogger logger, int remaining, TimeSpan timeout);

        [LoggerMessage(EventId = 7, Message = "librdkafka {Facility}: {Message}")]
        public static partial void Librdkafka(ILogger logger, LogLevel level, string facility, string message);
    }
}
