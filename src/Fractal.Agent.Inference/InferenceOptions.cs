using System.ComponentModel.DataAnnotations;

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
}
