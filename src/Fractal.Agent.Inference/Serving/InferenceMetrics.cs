using Fractal.Agent.Sync.Metrics;
using Prometheus;

namespace Fractal.Agent.Inference.Serving;

/// <summary>
/// Metrics of on-stream inference, on the data path's registry so the agent's one
/// <c>/metrics</c> endpoint shows both.
/// </summary>
public sealed class InferenceMetrics
{
    public InferenceMetrics(SyncMetrics syncMetrics)
    {
        ArgumentNullException.ThrowIfNull(syncMetrics);
        var factory = Prometheus.Metrics.WithCustomRegistry(syncMetrics.Registry);
        Published = factory.CreateCounter("fractal_predictions_total", "Predictions published to fractal/predictions/{stream}.", "stream");
        Skipped = factory.CreateCounter("fractal_predictions_skipped_total", "Accepted readings of an inference stream that got no prediction, by reason.", "stream", "reason");
        Labeled = factory.CreateCounter("fractal_prediction_labeled_total", "Predictions on readings that carried a label (online accuracy denominator).", "model");
        Correct = factory.CreateCounter("fractal_prediction_correct_total", "Predictions that matched the reading's label (online accuracy numerator).", "model");
        Latency = factory.CreateHistogram("fractal_inference_seconds", "Time of one model run on one reading.", new HistogramConfiguration
        {
            Buckets = Histogram.ExponentialBuckets(0.00005, 2, 14), // 50 µs to 0.4 s
        });
        LocalTrainings = factory.CreateCounter("fractal_local_trainings_total", "Local retrainings on a stream's training reservoir, by outcome (kept, discarded, skipped, failed).", "stream", "outcome");
        HoldoutAccuracy = factory.CreateGauge("fractal_local_training_holdout_accuracy", "Holdout accuracy of the last local retraining: the active model before it and the retrained one.", "stream", "model");
    }

    public Counter Published { get; }

    public Counter Skipped { get; }

    public Counter Labeled { get; }

    public Counter Correct { get; }

    public Histogram Latency { get; }

    public Counter LocalTrainings { get; }

    public Gauge HoldoutAccuracy { get; }
}

/// <summary>Why a reading of an inference stream got no prediction (the <c>reason</c> label).</summary>
public static class SkipReason
{
    /// <summary>No model version is active yet.</summary>
    public const string NoModel = "no_model";

    /// <summary>Inference fell behind and the oldest queued reading was dropped (ingest never waits for inference).</summary>
    public const string Backlog = "backlog";

    /// <summary>The reading's size is not the active model's input size.</summary>
    public const string InputMismatch = "input_mismatch";

    /// <summary>No MQTT connection to publish on (broker down).</summary>
    public const string NotPublished = "not_published";

    /// <summary>The model run failed.</summary>
    public const string Failed = "failed";
}
