namespace Fractal.Learning.Training;

/// <summary>The optimizer a training-step graph applies.</summary>
public enum OptimizerKind
{
    /// <summary>SGD with momentum and L2 weight decay, PyTorch semantics (dampening 0, no Nesterov).</summary>
    Sgd,

    /// <summary>Adam with L2 weight decay added to the gradient, PyTorch semantics (not AdamW).</summary>
    Adam,
}

/// <summary>Structure of a training-step graph. Hyper-parameter values are graph inputs, not options.</summary>
public sealed class TrainingGraphOptions
{
    /// <summary>The optimizer.</summary>
    /// <value>The default value is <see cref="OptimizerKind.Sgd"/>.</value>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Sgd;

    /// <summary>
    /// Adds the FedProx proximal term (mu / 2) * ||w - w_global||^2 to the objective: inputs
    /// <c>mu</c> and <c>{parameter}.global</c>. The reported loss stays the cross-entropy.
    /// </summary>
    /// <value>The default value is false.</value>
    public bool ProximalTerm { get; init; }

    /// <summary>Also outputs the raw loss gradient of every parameter as <c>{parameter}.grad</c> (verification and diagnostics).</summary>
    /// <value>The default value is false.</value>
    public bool EmitGradients { get; init; }
}
