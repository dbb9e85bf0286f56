namespace Fractal.Learning.Training;

/// <summary>Optimizer and runtime settings of a <see cref="LocalTrainer"/>.</summary>
public sealed class LocalTrainerOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Fractal:Learning:Trainer";

    /// <summary>The optimizer.</summary>
    /// <value>The default value is <see cref="OptimizerKind.Sgd"/>.</value>
    public OptimizerKind Optimizer { get; set; } = OptimizerKind.Sgd;

    /// <summary>Learning rate.</summary>
    /// <value>The default value is 0.01.</value>
    public float LearningRate { get; set; } = 0.01f;

    /// <summary>SGD momentum (ignored by Adam).</summary>
    /// <value>The default value is 0.</value>
    public float Momentum { get; set; }

    /// <summary>L2 weight decay added to the gradient.</summary>
    /// <value>The default value is 0.</value>
    public float WeightDecay { get; set; }

    /// <summary>Adam beta1.</summary>
    /// <value>The default value is 0.9.</value>
    public float Beta1 { get; set; } = 0.9f;

    /// <summary>Adam beta2.</summary>
    /// <value>The default value is 0.999.</value>
    public float Beta2 { get; set; } = 0.999f;

    /// <summary>Adam epsilon.</summary>
    /// <value>The default value is 1e-8.</value>
    public float Epsilon { get; set; } = 1e-8f;

    /// <summary>
    /// FedProx proximal coefficient mu. When greater than zero the step graph adds
    /// (mu / 2) * ||w - w_global||^2, where w_global is the model last passed to
    /// <see cref="LocalTrainer.SetParameters"/> (the round's global model).
    /// </summary>
    /// <value>The default value is 0 (plain local SGD or Adam).</value>
    public float ProximalMu { get; set; }

    /// <summary>ONNX Runtime intra-op threads. Results are bitwise reproducible for a fixed seed and thread count.</summary>
    /// <value>The default value is 1.</value>
    public int IntraOpThreads { get; set; } = 1;

    /// <summary>Batch size used by evaluation.</summary>
    /// <value>The default value is 256.</value>
    public int EvaluationBatchSize { get; set; } = 256;

    internal void Validate()
    {
        Check(float.IsFinite(LearningRate) && LearningRate >= 0f, nameof(LearningRate), LearningRate);
        Check(float.IsFinite(Momentum) && Momentum >= 0f, nameof(Momentum), Momentum);
        Check(float.IsFinite(WeightDecay) && WeightDecay >= 0f, nameof(WeightDecay), WeightDecay);
        Check(Beta1 is >= 0f and < 1f, nameof(Beta1), Beta1);
        Check(Beta2 is >= 0f and < 1f, nameof(Beta2), Beta2);
        Check(float.IsFinite(Epsilon) && Epsilon > 0f, nameof(Epsilon), Epsilon);
        Check(float.IsFinite(ProximalMu) && ProximalMu >= 0f, nameof(ProximalMu), ProximalMu);
        Check(IntraOpThreads is >= 1 and <= 256, nameof(IntraOpThreads), IntraOpThreads);
        Check(EvaluationBatchSize is >= 1 and <= 65_536, nameof(EvaluationBatchSize), EvaluationBatchSize);
        Check(Enum.IsDefined(Optimizer), nameof(Optimizer), Optimizer);
    }

    private static void Check(bool ok, string name, object value)
    {
        if (!ok)
        {
            throw new ArgumentException($"{SectionName}:{name} has the invalid value {value}.", name);
        }
    }
}

/// <summary>Result of <see cref="LocalTrainer.TrainEpochs"/>.</summary>
/// <param name="EpochLosses">Mean training cross-entropy of every epoch (over its samples, before each step's update).</param>
/// <param name="Steps">Optimizer steps taken.</param>
/// <param name="SamplesPerEpoch">Samples seen per epoch.</param>
public sealed record TrainingReport(IReadOnlyList<double> EpochLosses, int Steps, int SamplesPerEpoch)
{
    /// <summary>Loss of the last epoch, or NaN if no epoch ran.</summary>
    public double FinalLoss => EpochLosses.Count > 0 ? EpochLosses[^1] : double.NaN;

    /// <summary>
    /// True when an epoch's loss is NaN or infinite: the parameters are unusable (learning rate too
    /// high for the data) and must not be sent for aggregation.
    /// </summary>
    public bool Diverged => EpochLosses.Any(l => !double.IsFinite(l));
}
