using Fractal.Learning.Specs;
using Fractal.Learning.Training;

namespace Fractal.Agent.Inference.Training;

/// <summary>A local training job on the node's labeled samples.</summary>
/// <param name="Spec">The model.</param>
/// <param name="InitialParameters">Where training starts (for a federated round, the global model; also the FedProx anchor).</param>
/// <param name="Images">Count x Spec.InputSize raw values.</param>
/// <param name="Labels">Count class indices.</param>
/// <param name="Count">Samples to train on.</param>
public sealed record TrainingJobRequest(ModelSpec Spec, ModelParameters InitialParameters, float[] Images, int[] Labels, int Count)
{
    /// <summary>Passes over the data.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Samples per step.</summary>
    public int BatchSize { get; init; } = 64;

    /// <summary>SGD learning rate.</summary>
    public float LearningRate { get; init; } = 0.01f;

    /// <summary>SGD momentum.</summary>
    public float Momentum { get; init; } = 0.9f;

    /// <summary>L2 weight decay.</summary>
    public float WeightDecay { get; init; } = 1e-5f;

    /// <summary>FedProx mu (0 for plain local training).</summary>
    public float ProximalMu { get; init; }

    /// <summary>Seed for shuffling.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// Samples held out of training, on which the job scores both the initial and the trained
    /// parameters so that the caller can keep the result only if it is better; null skips that.
    /// </summary>
    public HoldoutSet? Holdout { get; init; }
}

/// <summary>Labeled samples to score parameters on (not trained on).</summary>
/// <param name="Images">Count x Spec.InputSize raw values.</param>
/// <param name="Labels">Count class indices.</param>
/// <param name="Count">Samples to score.</param>
public sealed record HoldoutSet(float[] Images, int[] Labels, int Count);

/// <summary>Accuracy on a <see cref="HoldoutSet"/> of the parameters a job started from and of those it produced.</summary>
public sealed record HoldoutAccuracy(double Before, double After);

/// <summary>The outcome of a training job.</summary>
/// <param name="JobId">Identifier for logs.</param>
/// <param name="Parameters">The trained parameters.</param>
/// <param name="Report">Losses and steps.</param>
/// <param name="SampleCount">Samples trained on (the FedAvg weight of this update).</param>
public sealed record TrainingJobResult(string JobId, ModelParameters Parameters, TrainingReport Report, int SampleCount)
{
    /// <summary>Scores on the request's <see cref="TrainingJobRequest.Holdout"/>, or null when it had none.</summary>
    public HoldoutAccuracy? Holdout { get; init; }
}

/// <summary>
/// Runs local training jobs one at a time on a dedicated thread, bounded in intra-op threads and
/// samples so that inference keeps its latency while a job runs.
/// </summary>
public interface ITrainingJobRunner
{
    /// <summary>
    /// Queues a job (waiting while the queue is full) and completes when it has run.
    /// Cancelling <paramref name="cancellationToken"/> cancels the job whether queued or running.
    /// </summary>
    /// <exception cref="ArgumentException">The job exceeds <see cref="InferenceOptions.MaxTrainingSamples"/> or its arrays do not hold Count samples.</exception>
    Task<TrainingJobResult> RunAsync(TrainingJobRequest request, CancellationToken cancellationToken = default);
}
