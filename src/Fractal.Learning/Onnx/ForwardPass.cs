using Fractal.Learning.Specs;
using static Fractal.Learning.Onnx.OnnxGraph;

namespace Fractal.Learning.Onnx;

/// <summary>
/// Emits the forward pass of a spec into a graph. Shared by the inference model and the training
/// step so the two can never disagree about what the model computes.
/// </summary>
internal sealed class ForwardPass
{
    private ForwardPass(string[] activations, string?[] poolIndices)
    {
        Activations = activations;
        PoolIndices = poolIndices;
    }

    /// <summary>Value names: [0] is the preprocessed input, [i + 1] the output of layer i (the last is the logits).</summary>
    public IReadOnlyList<string> Activations { get; }

    /// <summary>For MaxPool2D layers in training mode, the Indices output (flat, int64); otherwise null.</summary>
    public IReadOnlyList<string?> PoolIndices { get; }

    /// <param name="graph">Graph to append to.</param>
    /// <param name="spec">The model.</param>
    /// <param name="input">Raw input value [N, ..spec.Input.Shape].</param>
    /// <param name="parameter">Maps a parameter name to the graph value that holds it.</param>
    /// <param name="dropoutMask">Training: maps a dropout layer index to its mask input (already scaled by 1/(1-rate)); null at inference.</param>
    public static ForwardPass Emit(OnnxGraph graph, ModelSpec spec, string input, Func<string, string> parameter, Func<int, string?>? dropoutMask)
    {
        var training = dropoutMask is not null;
        var acts = new string[spec.Layers.Count + 1];
        var indices = new string?[spec.Layers.Count];
        var x = input;
        if (spec.Input.Scale != 1f)
        {
            x = graph.Node("Mul", [x, graph.ConstFloat(spec.Input.Scale)]);
        }

        if (spec.Input.Offset != 0f)
        {
            x = graph.Node("Add", [x, graph.ConstFloat(spec.Input.Offset)]);
        }

        if (spec.Input.Reshape is { } reshape)
        {
            x = graph.Node("Reshape", [x, graph.ConstInt64([-1, .. reshape.Select(d => (long)d)])]);
        }

        if (x == input)
        {
            x = graph.Node("Identity", input);
        }

        acts[0] = x;
        for (var i = 0; i < spec.Layers.Count; i++)
        {
            switch (spec.Layers[i])
            {
                case DenseLayer:
                    x = graph.Node("Gemm", [x, parameter($"layers.{i}.weight"), parameter($"layers.{i}.bias")], Int("transB", 1));
                    break;
                case Conv2DLayer c:
                    x = graph.Node(
                        "Conv",
                        [x, parameter($"layers.{i}.weight"), parameter($"layers.{i}.bias")],
                        Ints("kernel_shape", c.Kernel, c.Kernel),
                        Ints("strides", c.Stride, c.Stride),
                        Ints("pads", c.Padding, c.Padding, c.Padding, c.Padding));
                    break;
                case MaxPool2DLayer m:
                    if (training)
                    {
                        var outs = graph.NodeN("MaxPool", [x], 2, Ints("kernel_shape", m.Size, m.Size), Ints("strides", m.Stride, m.Stride));
                        x = outs[0];
                        indices[i] = outs[1];
                    }
                    else
                    {
                        x = graph.Node("MaxPool", [x], Ints("kernel_shape", m.Size, m.Size), Ints("strides", m.Stride, m.Stride));
                    }

                    break;
                case ReLULayer:
                    x = graph.Node("Relu", x);
                    break;
                case FlattenLayer:
                    x = graph.Node("Flatten", x, Int("axis", 1));
                    break;
                case DropoutLayer:
                    // Inverted dropout: the trainer feeds a mask of 0 and 1/(1-rate); inference is the identity.
                    if (dropoutMask?.Invoke(i) is { } mask)
                    {
                        x = graph.Node("Mul", [x, mask]);
                    }

                    break;
                default:
                    throw new InvalidOperationException($"Unhandled layer {spec.Layers[i].Kind}.");
            }

            acts[i + 1] = x;
        }

        return new ForwardPass(acts, indices);
    }
}
