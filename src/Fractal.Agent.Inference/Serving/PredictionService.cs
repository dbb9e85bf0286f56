using System.Buffers;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Fractal.Agent.Inference.Models;
using Fractal.Agent.Sync.Buffer;
using Fractal.Agent.Sync.Ingest;
using Fractal.Agent.Sync.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace Fractal.Agent.Inference.Serving;

/// <summary>
/// Runs the active model on every accepted reading of the streams whose policy sets
/// <see cref="StreamPolicy.Inference"/>, and publishes each result to
/// <c>fractal/predictions/{stream}</c> (ARCHITECTURE.md, data path step 5).
/// </summary>
/// <remarks>
/// Ingest never waits for inference: accepted readings go to a bounded queue that drops the
/// oldest reading when full (counted as <see cref="SkipReason.Backlog"/>), so a slow model costs
/// predictions, never acknowledgements or buffer throughput. One reader runs the model, so
/// inference uses at most <see cref="InferenceOptions.IntraOpThreads"/> cores however fast
/// sensors publish. See docs/design/0014-inference-on-streams.md.
/// </remarks>
public sealed class PredictionService : BackgroundService
{
    private readonly IngestPipeline _pipeline;
    private readonly StreamCatalog _catalog;
    private readonly IModelRuntime _runtime;
    private readonly ILocalPublisher _publisher;
    private readonly InferenceMetrics _metrics;
    private readonly ILogger<PredictionService> _logger;
    private readonly Channel<AppendRequest> _queue;

    // (stream, model version) pairs already warned about, so a misconfigured stream logs once, not per reading.
    private readonly HashSet<(string Stream, string Version)> _mismatchesLogged = [];

    public PredictionService(
        IngestPipeline pipeline,
        StreamCatalog catalog,
        IModelRuntime runtime,
        ILocalPublisher publisher,
        InferenceMetrics metrics,
        IOptions<InferenceOptions> options,
        ILogger<PredictionService> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _pipeline = pipeline;
        _catalog = catalog;
        _runtime = runtime;
        _publisher = publisher;
        _metrics = metrics;
        _logger = logger;
        _queue = Channel.CreateBounded<AppendRequest>(
            new BoundedChannelOptions(options.Value.PredictionQueueCapacity)
            {
                SingleReader = true,
                FullMode = BoundedChannelFullMode.DropOldest,
            },
            dropped => _metrics.Skipped.WithLabels(dropped.Stream, SkipReason.Backlog).Inc());
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        _pipeline.Accepted += OnAccepted;
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Predictions are derived data: what is still queued at shutdown is not worth a delay.
        _pipeline.Accepted -= OnAccepted;
        _queue.Writer.TryComplete();
        await base.StopAsync(cancellationToken);
    }

    /// <summary>Runs on the ingest path: only a policy check and a non-blocking enqueue.</summary>
    private void OnAccepted(AppendRequest reading)
    {
        if (!_catalog.TryGetPolicy(reading.Stream, out var policy) || !policy.Inference)
        {
            return;
        }

        if (_runtime.Active is null)
        {
            _metrics.Skipped.WithLabels(reading.Stream, SkipReason.NoModel).Inc();
            return;
        }

        _queue.Writer.TryWrite(reading);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var payload = new ArrayBufferWriter<byte>(1024);
        var probabilities = Array.Empty<float>();
        try
        {
            await foreach (var reading in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                payload.ResetWrittenCount();
                if (!TryPredict(reading, payload, ref probabilities))
                {
                    continue;
                }

                if (await _publisher.TryPublishAsync(PredictionMessage.TopicPrefix + reading.Stream, payload.WrittenMemory, stoppingToken))
                {
                    _metrics.Published.WithLabels(reading.Stream).Inc();
                }
                else
                {
                    _metrics.Skipped.WithLabels(reading.Stream, SkipReason.NotPublished).Inc();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    /// <summary>Runs the active model on one reading and writes the prediction message.</summary>
    private bool TryPredict(AppendRequest reading, ArrayBufferWriter<byte> payload, ref float[] probabilities)
    {
        ModelLease lease;
        try
        {
            lease = _runtime.AcquireActive();
        }
        catch (InvalidOperationException)
        {
            _metrics.Skipped.WithLabels(reading.Stream, SkipReason.NoModel).Inc();
            return false;
        }

        using (lease)
        {
            // Readings are float32 little-endian (PayloadDecoder), the byte order of every
            // platform the agent ships for, so they are read in place.
            var sample = MemoryMarshal.Cast<byte, float>(reading.Values);
            if (sample.Length != lease.Spec.InputSize)
            {
                _metrics.Skipped.WithLabels(reading.Stream, SkipReason.InputMismatch).Inc();
                if (_mismatchesLogged.Add((reading.Stream, lease.Info.Version)))
                {
                    PredictionLog.InputMismatch(_logger, reading.Stream, sample.Length, lease.Info.Version, lease.Spec.InputSize);
                }

                return false;
            }

            if (probabilities.Length != lease.Spec.ClassCount)
            {
                probabilities = new float[lease.Spec.ClassCount];
            }

            Prediction prediction;
            var started = Stopwatch.GetTimestamp();
            try
            {
                prediction = lease.Predict(sample, probabilities);
            }
            catch (OnnxRuntimeException ex)
            {
                _metrics.Skipped.WithLabels(reading.Stream, SkipReason.Failed).Inc();
                PredictionLog.RunFailed(_logger, ex, reading.Stream, lease.Info.Version);
                return false;
            }

            _metrics.Latency.Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
            if (reading.Label is { } label)
            {
                _metrics.Labeled.WithLabels(prediction.ModelVersion).Inc();
                if (label == prediction.Label)
                {
                    _metrics.Correct.WithLabels(prediction.ModelVersion).Inc();
                }
            }

            PredictionMessage.Write(payload, prediction, probabilities, reading.SourceId, reading.Label);
            return true;
        }
    }
}

internal static partial class PredictionLog
{
    [LoggerMessage(EventId = 3020, Level = LogLevel.Warning, Message = "Stream {Stream} sends {Values} values per reading but model version {Version} takes {InputSize}; its readings get no predictions")]
    public static partial void InputMismatch(ILogger logger, string stream, int values, string version, int inputSize);

    [LoggerMessage(EventId = 3021, Level = LogLevel.Error, Message = "Model version {Version} failed on a reading of stream {Stream}")]
    public static partial void RunFailed(ILogger logger, Exception exception, string stream, string version);
}
