namespace Fractal.Learning.Training;

/// <summary>
/// A serialized ONNX training-step graph and the names of its inputs and outputs.
/// One run of the graph is one optimizer step on one batch:
/// inputs = parameters, optimizer state, batch (<see cref="BatchInput"/> float [B, ..input shape],
/// <see cref="LabelInput"/> int64 [B]), dropout masks, hyper-parameter scalars (and global
/// parameters for FedProx); outputs = <see cref="LossOutput"/> (mean cross-entropy before the
/// update), updated parameters, updated state (and gradients when requested).
/// </summary>
public sealed class TrainingGraph
{
    /// <summary>Name of the batch input.</summary>
    public const string BatchInput = "x";

    /// <summary>Name of the label input (int64 class indices).</summary>
    public const string LabelInput = "y";

    /// <summary>Name of the loss output (scalar float).</summary>
    public const string LossOutput = "loss";

    /// <summary>Suffix of an updated parameter or state output (<c>layers.0.weight.updated</c>).</summary>
    public const string UpdatedSuffix = ".updated";

    /// <summary>Suffix of a gradient output.</summary>
    public const string GradientSuffix = ".grad";

    /// <summary>Suffix of a FedProx global-parameter input.</summary>
    public const string GlobalSuffix = ".global";

    internal TrainingGraph(
        byte[] model,
        IReadOnlyList<string> parameterNames,
        IReadOnlyList<string> stateNames,
        IReadOnlyList<string> hyperParameterNames,
        IReadOnlyList<int> dropoutLayers,
        TrainingGraphOptions options)
    {
        Model = model;
        ParameterNames = parameterNames;
        StateNames = stateNames;
        HyperParameterNames = hyperParameterNames;
        DropoutLayers = dropoutLayers;
        Options = options;
    }

    /// <summary>The serialized ONNX ModelProto.</summary>
#pragma warning disable CA1819 // Properties should not return arrays: handed as is to InferenceSession(byte[]).
    public byte[] Model { get; }
#pragma warning restore CA1819

    /// <summary>Parameter inputs (each has an output with <see cref="UpdatedSuffix"/>).</summary>
    public IReadOnlyList<string> ParameterNames { get; }

    /// <summary>Optimizer state inputs, shaped like their parameter (each has an output with <see cref="UpdatedSuffix"/>).</summary>
    public IReadOnlyList<string> StateNames { get; }

    /// <summary>Scalar float hyper-parameter inputs (<c>lr</c>, <c>momentum</c>, <c>weight_decay</c>, <c>beta1</c>, <c>beta2</c>, <c>epsilon</c>, <c>step</c>, <c>mu</c>).</summary>
    public IReadOnlyList<string> HyperParameterNames { get; }

    /// <summary>Indexes of dropout layers with a non-zero rate; each has a mask input named by <see cref="DropoutMaskName"/>.</summary>
    public IReadOnlyList<int> DropoutLayers { get; }

    /// <summary>The options the graph was built with.</summary>
    public TrainingGraphOptions Options { get; }

    /// <summary>Name of the mask input of dropout layer <paramref name="layerIndex"/>: float [B, ..activation shape], values 0 or 1/(1-rate).</summary>
    public static string DropoutMaskName(int layerIndex) => $"layers.{layerIndex}.dropout_mask";
}
