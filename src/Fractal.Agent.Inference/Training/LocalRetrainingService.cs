using System.Globalization;
using System.Runtime.InteropServices;
using Fractal.Agent.Inference.Models;
using Fractal.Agent.Inference.Serving;
using Fractal.Agent.Sync.Buffer;
using Fractal.Learning.Onnx;
using Fractal.Learning.Specs;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Inference.Training;

/// <summary>
/// Distributed learning on the node (ARCHITECTURE.md, the three learning approaches): every
/// <see cref="InferenceOptions.LocalTrainingInterval"/>, for each stream whose policy sets
/// <see cref="StreamPolicy.RetrainLocally"/>, retrains the active model on the stream's training
/// reservoir and deploys the result, on this node only, when it scores better than the active
/// model on samples held out of training. See docs/design/0015-local-retraining.md.
/// </summary>
/// <remarks>
/// Training and scoring run as one job of <see cref="ITrainingJobRunner"/>, so they are bounded
/// in threads and samples like any local job and inference keeps its latency. The version it
/// replaces stays loaded as the previous one, for an instant rollback.
/// </remarks>
public sealed class LocalRetrainingService : BackgroundService
{
    /// <summary>What a locally retrained version's name adds to the name of the version it came from.</summary>
    public const string VersionMarker = "-local-";

    private readonly StreamCatalog _catalog;
    private readonly DurableBuffer _buffer;
    private readonly IModelDeployer _deployer;
    private readonly ITrainingJobRunner _runner;
    private readonly InferenceMetrics _metrics;
    private readonly InferenceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<LocalRetrainingService> _logger;
    private int _attempts;

    public LocalRetrainingService(
        StreamCatalog catalog,
        DurableBuffer buffer,
        IModelDeployer deployer,
        ITrainingJobRunner runner,
        InferenceMetrics metrics,
        IOptions<InferenceOptions> options,
        TimeProvider time,
        ILogger<LocalRetrainingService> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _catalog = catalog;
        _buffer = buffer;
        _deployer = deployer;
        _runner = runner;
        _metrics = metrics;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>
    /// Retrains the active model on <paramref name="stream"/>'s reservoir once, and deploys the
    /// result if it is better. Never throws for bad data or a failed job: the outcome says what
    /// happened, and the active model keeps serving in every case but <see cref="RetrainingResult.Kept"/>.
    /// </summary>
    public async Task<RetrainingOutcome> RetrainAsync(string stream, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var outcome = await RetrainCoreAsync(stream, cancellationToken);
        _metrics.LocalTrainings.WithLabels(stream, OutcomeLabel(outcome.Result)).Inc();
        if (outcome.Accuracy is { } accuracy)
        {
            _metrics.HoldoutAccuracy.WithLabels(stream, "active").Set(accuracy.Before);
            _metrics.HoldoutAccuracy.WithLabels(stream, "retrained").Set(accuracy.After);
        }

        RetrainingLog.Outcome(_logger, stream, outcome.Result, outcome.Reason, outcome.FromVersion, outcome.NewVersion, outcome.Accuracy?.Before, outcome.Accuracy?.After);
        return outcome;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.LocalTrainingInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                foreach (var stream in _catalog.Named)
                {
                    if (_catalog.TryGetPolicy(stream, out var policy) && policy.RetrainLocally)
                    {
                        await RetrainAsync(stream, stoppingToken);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: a running job is cancelled with the token.
        }
    }

    private async Task<RetrainingOutcome> RetrainCoreAsync(string stream, CancellationToken cancellationToken)
    {
        if (!_catalog.TryGetPolicy(stream, out var policy) || !policy.RetrainLocally)
        {
            return RetrainingOutcome.Skipped(stream, "the stream's policy does not set RetrainLocally");
        }

        StagedModel? active;
        try
        {
            active = _deployer.ReadActive();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ModelSpecException)
        {
            return RetrainingOutcome.Failed(stream, null, $"the active version's staged files could not be read: {ex.Message}");
        }

        if (active is null)
        {
            return RetrainingOutcome.Skipped(stream, "no model is active");
        }

        var seed = Interlocked.Increment(ref _attempts);
        var samples = UsableSamples(_buffer.ReadTrainingSamples(stream, _options.MaxTrainingSamples, seed), active.Spec, out var unusable);
        if (samples.Count < _options.LocalTrainingMinSamples)
        {
            return RetrainingOutcome.Skipped(stream, string.Create(
                CultureInfo.InvariantCulture,
                $"{samples.Count} usable labeled samples, {_options.LocalTrainingMinSamples} needed ({unusable} others do not fit model {active.Version})"),
                active.Version);
        }

        ModelParameters initial;
        try
        {
            initial = OnnxWeights.Read(active.OnnxModel, active.Spec);
        }
        catch (OnnxModelException ex)
        {
            return RetrainingOutcome.Failed(stream, active.Version, $"the active model's weights could not be read: {ex.Message}");
        }

        var request = Split(active.Spec, initial, samples, seed);
        TrainingJobResult result;
        try
        {
            result = await _runner.RunAsync(request, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            return RetrainingOutcome.Failed(stream, active.Version, $"the training job failed: {ex.Message}");
        }

        var accuracy = result.Holdout!;
        if (!result.Parameters.Tensors.All(t => AllFinite(t.Data)))
        {
            return RetrainingOutcome.Discarded(stream, active.Version, "the retrained parameters are not all finite", accuracy);
        }

        if (!(accuracy.After >= accuracy.Before + _options.LocalTrainingMinAccuracyGain))
        {
            return RetrainingOutcome.Discarded(stream, active.Version, string.Create(
                CultureInfo.InvariantCulture,
                $"not better on {request.Holdout!.Count} held-out samples by the {_options.LocalTrainingMinAccuracyGain:0.###} required"),
                accuracy);
        }

        var version = LocalVersion(active.Version, _time.GetUtcNow());
        ModelVersionInfo? deployed;
        try
        {
            deployed = _deployer.DeployReplacing(active.Version, version, active.Spec.ToJson(), InferenceModelBuilder.Build(active.Spec, result.Parameters));
        }
        catch (ModelRejectedException ex)
        {
            return RetrainingOutcome.Failed(stream, active.Version, ex.Message);
        }

        return deployed is null
            ? RetrainingOutcome.Discarded(stream, active.Version, "another version was deployed while it trained", accuracy)
            : new RetrainingOutcome(stream, RetrainingResult.Kept, string.Create(
                CultureInfo.InvariantCulture,
                $"trained on {request.Count} samples, scored on {request.Holdout!.Count}"))
            {
                FromVersion = active.Version,
                NewVersion = deployed.Version,
                Accuracy = accuracy,
            };
    }

    /// <summary>The <c>outcome</c> label of <c>fractal_local_trainings_total</c>.</summary>
    private static string OutcomeLabel(RetrainingResult result) => result switch
    {
        RetrainingResult.Kept => "kept",
        RetrainingResult.Discarded => "discarded",
        RetrainingResult.Skipped => "skipped",
        _ => "failed",
    };

    /// <summary>
    /// The name of a version retrained from <paramref name="activeVersion"/>: the version it
    /// descends from (the hub's, before any earlier local suffix) and the time, to the millisecond.
    /// </summary>
    public static string LocalVersion(string activeVersion, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(activeVersion);
        var marker = activeVersion.IndexOf(VersionMarker, StringComparison.Ordinal);
        var origin = marker < 0 ? activeVersion : activeVersion[..marker];
        var suffix = VersionMarker + now.UtcDateTime.ToString("yyyyMMdd'T'HHmmssfff", CultureInfo.InvariantCulture);

        // Versions name directories of at most 128 characters (ModelStore).
        return origin[..Math.Min(origin.Length, 128 - suffix.Length)] + suffix;
    }

    /// <summary>
    /// The reservoir's samples that the model can take: float32 values of the model's input size,
    /// all finite, with a label below its class count. Sensors may change or misbehave after
    /// their readings were accepted; such samples are counted and left out, never trained on.
    /// </summary>
    private static List<TrainingSample> UsableSamples(IReadOnlyList<TrainingSample> reservoir, ModelSpec spec, out int unusable)
    {
        var usable = new List<TrainingSample>(reservoir.Count);
        unusable = 0;
        foreach (var sample in reservoir)
        {
            if (sample.Values.Length != spec.InputSize * sizeof(float) || sample.Label < 0 || sample.Label >= spec.ClassCount)
            {
                unusable++;
                continue;
            }

            if (!AllFinite(AsFloats(sample)))
            {
                unusable++;
                continue;
            }

            usable.Add(sample);
        }

        return usable;
    }

    /// <summary>A sample's values in place: readings are float32 little-endian (PayloadDecoder).</summary>
    private static ReadOnlySpan<float> AsFloats(TrainingSample sample) => MemoryMarshal.Cast<byte, float>(sample.Values);

    private static bool AllFinite(ReadOnlySpan<float> values)
    {
        foreach (var v in values)
        {
            if (!float.IsFinite(v))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Shuffles the samples (seeded), caps them at the job limit and holds a fraction out for scoring.</summary>
    private TrainingJobRequest Split(ModelSpec spec, ModelParameters initial, List<TrainingSample> samples, int seed)
    {
        new Random(seed).Shuffle(CollectionsMarshal.AsSpan(samples));
        var total = Math.Min(samples.Count, _options.MaxTrainingSamples);
        var holdoutCount = Math.Clamp((int)Math.Round(total * _options.LocalTrainingHoldoutFraction), 1, total - 1);
        var trainCount = total - holdoutCount;

        // The one copy of the values: straight from the reservoir's bytes into the job's arrays.
        (float[] Images, int[] Labels) Pack(int from, int count)
        {
            var images = new float[count * spec.InputSize];
            var labels = new int[count];
            for (var i = 0; i < count; i++)
            {
                AsFloats(samples[from + i]).CopyTo(images.AsSpan(i * spec.InputSize, spec.InputSize));
                labels[i] = samples[from + i].Label;
            }

            return (images, labels);
        }

        var train = Pack(0, trainCount);
        var holdout = Pack(trainCount, holdoutCount);
        return new TrainingJobRequest(spec, initial, train.Images, train.Labels, trainCount)
        {
            Epochs = _options.LocalTrainingEpochs,
            Seed = seed,
            Holdout = new HoldoutSet(holdout.Images, holdout.Labels, holdoutCount),
        };
    }
}

/// <summary>How a local retraining ended.</summary>
public enum RetrainingResult
{
    /// <summary>The retrained model scored better and is now the active version.</summary>
    Kept,

    /// <summary>It trained, but the result was not better (or not usable); the active model stays.</summary>
    Discarded,

    /// <summary>It did not train: no model, too few samples, or the stream does not retrain locally.</summary>
    Skipped,

    /// <summary>Something went wrong (unreadable model, failed job); the active model stays.</summary>
    Failed,
}

/// <summary>The outcome of one local retraining of one stream.</summary>
/// <param name="Stream">The stream whose reservoir it used.</param>
/// <param name="Result">How it ended.</param>
/// <param name="Reason">Why, in words for the log.</param>
public sealed record RetrainingOutcome(string Stream, RetrainingResult Result, string Reason)
{
    /// <summary>The version it started from (the active one), when there was one.</summary>
    public string? FromVersion { get; init; }

    /// <summary>The version it deployed, when kept.</summary>
    public string? NewVersion { get; init; }

    /// <summary>Holdout accuracy before and after, when it trained.</summary>
    public HoldoutAccuracy? Accuracy { get; init; }

    internal static RetrainingOutcome Skipped(string stream, string reason, string? fromVersion = null) =>
        new(stream, RetrainingResult.Skipped, reason) { FromVersion = fromVersion };

    internal static RetrainingOutcome Failed(string stream, string? fromVersion, string reason) =>
        new(stream, RetrainingResult.Failed, reason) { FromVersion = fromVersion };

    internal static RetrainingOutcome Discarded(string stream, string fromVersion, string reason, HoldoutAccuracy accuracy) =>
        new(stream, RetrainingResult.Discarded, reason) { FromVersion = fromVersion, Accuracy = accuracy };
}

internal static partial class RetrainingLog
{
    [LoggerMessage(EventId = 3030, Level = LogLevel.Information, Message = "Local retraining on stream {Stream}: {Result} ({Reason}); from {FromVersion} to {NewVersion}; holdout accuracy {Before} -> {After}")]
    public static partial void Outcome(ILogger logger, string stream, RetrainingResult result, string reason, string? fromVersion, string? newVersion, double? before, double? after);
}
