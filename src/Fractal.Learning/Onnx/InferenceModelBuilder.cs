using Fractal.Learning.Specs;
using Onnx;

namespace Fractal.Learning.Onnx;

/// <summary>
/// Builds the standard ONNX inference model of a spec: input <see cref="InputName"/> [N, ..shape]
/// (raw values; the spec's scale, offset and reshape are part of the graph), output
/// <see cref="OutputName"/> [N, classes] (softmax), parameters as named initializers, opset 17.
/// Dropout layers are omitted (identity at inference).
/// </summary>
public static class InferenceModelBuilder
{
    /// <summary>Name of the graph input.</summary>
    public const string InputName = "input";

    /// <summary>Name of the graph output (class probabilities).</summary>
    public const string OutputName = "probabilities";

    /// <summary>Key of the model metadata entry that holds the spec's JSON, so an artifact describes itself.</summary>
    public const string SpecMetadataKey = "fractal.model_spec";

    /// <summary>The ai.onnx opset the model imports.</summary>
    public const int Opset = OnnxGraph.Opset;

    /// <summary>Serializes the inference model for <paramref name="spec"/> with <paramref name="parameters"/> as initializers.</summary>
    /// <exception cref="ArgumentException">The parameters do not match the spec.</exception>
    public static byte[] Build(ModelSpec spec, ModelParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.EnsureMatches(spec);

        var graph = new OnnxGraph(spec.Name);
        graph.AddInput(InputName, TensorProto.Types.DataType.Float, ["N", .. spec.Input.Shape.Cast<object>()]);
        foreach (var t in parameters.Tensors)
        {
            graph.AddInitializer(t.Name, t.Shape, t.Data);
        }

        var forward = ForwardPass.Emit(graph, spec, InputName, name => name, dropoutMask: null);
        graph.NodeTo("Softmax", [forward.Activations[^1]], [OutputName], OnnxGraph.Int("axis", 1));
        graph.AddOutput(OutputName, TensorProto.Types.DataType.Float, ["N", spec.ClassCount]);
        return graph.ToModelBytes(
            $"Fractal inference model '{spec.Name}' (schema {spec.SchemaVersion}).",
            new Dictionary<string, string>(StringComparer.Ordinal) { [SpecMetadataKey] = spec.ToJson() });
    }
}
