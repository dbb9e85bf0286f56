using Fractal.Agent.Sync.Buffer;
using Fractal.Agent.Sync.Identity;
using Fractal.Agent.Sync.Metrics;
using Fractal.Contracts.Ingest;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace Fractal.Agent.Sync.Uplinks;

/// <summary>
/// Drains the buffer into one uplink: reads each stream after the uplink's checkpoint, sends a
/// batch through the uplink's resilience pipeline, and advances the checkpoint only after the far
/// side acknowledged. The same loop forwards the loss ledger.
/// </summary>
internal sealed class UplinkWorker
{
    private const int LossEntriesPerReport = 256;

    private readonly IUplinkTransport _transport;
    private readonly DurableBuffer _buffer;
    private readonly NodeIdentity _identity;
    private readonly UplinkDeliveryOptions _options;
    private readonly SyncMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public UplinkWorker(IUplinkTransport transport, DurableBuffer buffer, NodeIdentity identity, UplinkDeliveryOptions options, SyncMetrics metrics, TimeProvider time, ILogger logger)
    {
        _transport = transport;
        _buffer = buffer;
        _identity = identity;
        _options = options;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        buffer.RegisterUplink(transport.Name);
    }

    public string Name => _transport.Name;

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        var pipeline = BuildPipeline(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            var idle = _buffer.DataCommitted;
            bool progressed;
            try
            {
                progressed = await DeliverOnceAsync(pipeline, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is BrokenCircuitException or not OperationCanceledException)
            {
                // Retries exhausted or circuit open: the far side is down. Nothing was
                // checkpointed, so the same batch goes again after the pause; ingest continues.
                UplinkLog.Unavailable(_logger, Name, _options.BreakDuration, ex);
                await DelayAsync(_options.BreakDuration, stoppingToken);
                continue;
            }

            _metrics.UplinkLag.WithLabels(Name).Set(_buffer.Backlog(Name));
            if (!progressed)
            {
                await Task.WhenAny(idle, Task.Delay(_options.IdlePollInterval, _time, stoppingToken)).ContinueWith(_ => { }, TaskScheduler.Default);
            }
        }
    }

    /// <summary>One round over every stream and the ledger; true when anything was delivered.</summary>
    internal async Task<bool> DeliverOnceAsync(ResiliencePipeline pipeline, CancellationToken cancellationToken)
    {
        var progressed = false;
        foreach (var stream in _buffer.Streams)
        {
            var checkpoint = _buffer.GetCheckpoint(Name, stream);
            var records = _buffer.Read(stream, checkpoint, _options.BatchMaxRecords, _options.BatchMaxBytes);
            if (records.Count == 0)
            {
                continue;
            }

            var batch = new RecordBatch { NodeId = _identity.NodeId, Stream = stream };
            foreach (var record in records)
            {
                batch.Records.Add(ToProto(record));
            }

            await pipeline.ExecuteAsync(static (state, ct) => new ValueTask(state.Transport.SendBatchAsync(state.Batch, ct)), (Transport: _transport, Batch: batch), cancellationToken);
            await _buffer.AdvanceCheckpointAsync(Name, stream, records[^1].Sequence, cancellationToken);
            _metrics.UplinkSent.WithLabels(Name).Inc(records.Count);
            progressed = true;
        }

        var ledgerCheckpoint = _buffer.GetLedgerCheckpoint(Name);
        var losses = _buffer.ReadLosses(ledgerCheckpoint, LossEntriesPerReport);
        if (losses.Count > 0)
        {
            var report = new LossReport { NodeId = _identity.NodeId };
            foreach (var loss in losses)
            {
                var entry = new LossEntry { Stream = loss.Stream, Reason = loss.Reason, LostAtUnixMs = loss.LostAtUnixMs, LedgerId = loss.LedgerId, Bytes = (ulong)loss.Bytes };
                entry.Sequences.AddRange(loss.Sequences);
                report.Entries.Add(entry);
            }

            await pipeline.ExecuteAsync(static (state, ct) => new ValueTask(state.Transport.SendLossesAsync(state.Report, ct)), (Transport: _transport, Report: report), cancellationToken);
            await _buffer.AdvanceLedgerCheckpointAsync(Name, losses[^1].LedgerId, cancellationToken);
            progressed = true;
        }

        return progressed;
    }

    internal ResiliencePipeline BuildPipeline(CancellationToken stoppingToken)
    {
        return new ResiliencePipelineBuilder { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is not null && !stoppingToken.IsCancellationRequested),
                MaxRetryAttempts = 6,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _options.RetryBaseDelay,
                MaxDelay = _options.RetryMaxDelay,
                OnRetry = args =>
                {
                    _metrics.UplinkErrors.WithLabels(Name).Inc();
                    UplinkLog.Retrying(_logger, Name, args.AttemptNumber + 1, args.RetryDelay, args.Outcome.Exception!.Message);
                    return ValueTask.CompletedTask;
                },
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = 4,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = _options.BreakDuration,
            })
            .AddTimeout(_options.AttemptTimeout)
            .Build();
    }

    private Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
        => Task.Delay(delay, _time, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default);

    private static SensorRecord ToProto(BufferedRecord record)
    {
        var proto = new SensorRecord
        {
            Sequence = record.Sequence,
            TimestampUnixMs = record.TimestampUnixMs,
            Values = UnsafeByteOperations.UnsafeWrap(record.Values),
            Priority = record.Priority,
        };
        proto.Shape.AddRange(record.Shape);
        if (record.Label is { } label)
        {
            proto.Label = label;
        }

        return proto;
    }
}

internal static partial class UplinkLog
{
    [LoggerMessage(4001, LogLevel.Warning, "Uplink {Uplink} unavailable; trying again in {Pause}")]
    public static partial void Unavailable(ILogger logger, string uplink, TimeSpan pause, Exception exception);

    [LoggerMessage(4002, LogLevel.Information, "Uplink {Uplink} attempt {Attempt} in {Delay}: {Error}")]
    public static partial void Retrying(ILogger logger, string uplink, int attempt, TimeSpan delay, string error);

    [LoggerMessage(4003, LogLevel.Information, "Uplink {Uplink} started")]
    public static partial void Started(ILogger logger, string uplink);
}
