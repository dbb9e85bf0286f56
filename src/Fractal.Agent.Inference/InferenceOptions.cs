using System.ComponentModel.DataAnnotations;
using Fractal.Agent.Sync;

namespace Fractal.Agent.Inference;

/// <summary>Settings of the edge model runtime (section <c>Inference</c>).</summary>
public sealed class InferenceOptions
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Inference";

    /// <summary>
    /// Directory of staged model versions: one sub-directory per version holding <c>model.onnx</c>
    /// and <c>spec.json</c>, plus the <c>active</c> and <c>previous</c> pointer files.
    /// A relative path is under the agent's state directory when the agent hosts the runtime.
    /// </summary>
    /// <value>The default value is <c>models</c>.</value>
    [Required]
    public string ModelDirectory { get; set; } = "models";

    /// <summary>ONNX Runtime intra-op threads per inference session.</summary>
    /// <value>The default value is 1: many small concurrent requests scale better over requests than inside one.</value>
    [Range(1, 64)]
    public int IntraOpThreads { get; set; } = 1;

    /// <summary>
    /// ONNX Runtime intra-op threads of a local training job. Kept below the core count so
    /// inference keeps its latency while a job runs.
    /// </summary>
    /// <value>The default value is 1.</value>
    [Range(1, 64)]
    public int TrainingIntraOpThreads { get; set; } = 1;

    /// <summary>Largest number of samples one training job may hold (bounds the job's memory).</summary>
    /// <value>The default value is 20,000 (about 63 MB of 28x28 float images).</value>
    [Range(1, 10_000_000)]
    public int MaxTrainingSamples { get; set; } = 20_000;

    /// <summary>Training jobs that may wait behind the running one; further submissions wait.</summary>
    /// <value>The default value is 4.</value>
    [Range(1, 1_000)]
    public int MaxQueuedTrainingJobs { get; set; } = 4;

    /// <summary>
    /// Accepted readings waiting for inference. When inference falls behind, the oldest is
    /// dropped: ingest never waits for it.
    /// </summary>
    /// <value>The default value is 256 (under 1 MB of 28x28 frames).</value>
    [Range(1, 100_000)]
    public int PredictionQueueCapacity { get; set; } = 256;

    /// <summary>
    /// How often the node retrains the active model on the training reservoir of each stream whose
    /// policy sets <c>RetrainLocally</c> (distributed learning, docs/design/0015-local-retraining.md).
    /// </summary>
    /// <value>The default value is one hour.</value>
    [TimeSpanRange("00:00:01", "30.00:00:00")]
    public TimeSpan LocalTrainingInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Usable labeled samples a stream's reservoir must hold before the node retrains on it.</summary>
    /// <value>The default value is 200.</value>
    [Range(10, 10_000_000)]
    public int LocalTrainingMinSamples { get; set; } = 200;

    /// <summary>Fraction of the samples held out of local training to score the active model and the retrained one.</summary>
    /// <value>The default value is 0.2.</value>
    [Range(0.05, 0.5)]
    public double LocalTrainingHoldoutFraction { get; set; } = 0.2;

    /// <summary>Passes over the training samples in one local retraining.</summary>
    /// <value>The default value is 5.</value>
    [Range(1, 1_000)]
    public int LocalTrainingEpochs { get; set; } = 5;

    /// <summary>
    /// How much better (holdout accuracy, 0-1) a retrained model must score than the active one
    /// to replace it; a model that is not better is discarded.
    /// </summary>
    /// <value>The default value is 0.01 (one point).</value>
    [Range(0.0, 1.0)]
    public double LocalTrainingMinAccuracyGain { get; set; } = 0.01;
}
