using Fractal.Learning.Onnx;
using Fractal.Learning.Specs;
using Onnx;
using static Fractal.Learning.Onnx.OnnxGraph;

namespace Fractal.Learning.Training;

/// <summary>Names of the scalar hyper-parameter inputs of a training-step graph.</summary>
public static class HyperParameterNames
{
    /// <summary>Learning rate.</summary>
    public const string LearningRate = "lr";

    /// <summary>SGD momentum factor.</summary>
    public const string Momentum = "momentum";

    /// <summary>L2 weight decay added to the gradient.</summary>
    public const string WeightDecay = "weight_decay";

    /// <summary>Adam beta1.</summary>
    public const string Beta1 = "beta1";

    /// <summary>Adam beta2.</summary>
    public const string Beta2 = "beta2";

    /// <summary>Adam epsilon.</summary>
    public const string Epsilon = "epsilon";

    /// <summary>Adam step number t (1 for the first step), as float.</summary>
    public const string Step = "step";

    /// <summary>FedProx proximal coefficient mu.</summary>
    public const string Mu = "mu";
}

/// <summary>
/// Builds the ONNX training-step graph of a spec from standard ai.onnx operators only, so it runs
/// on stock ONNX Runtime (no training build): forward pass, softmax cross-entropy, a hand-derived
/// backward pass for every layer type, and the optimizer update. See docs/design/0010.
/// </summary>
public static class TrainingGraphBuilder
{
    /// <summary>Suffix of the SGD momentum buffer state of a parameter.</summary>
    public const string MomentumBufferSuffix = ".momentum_buffer";

    /// <summary>Suffix of the Adam first-moment state of a parameter.</summary>
    public const string ExpAvgSuffix = ".exp_avg";

    /// <summary>Suffix of the Adam second-moment state of a parameter.</summary>
    public const string ExpAvgSqSuffix = ".exp_avg_sq";

    /// <summary>Builds the training-step graph.</summary>
    public static TrainingGraph Build(ModelSpec spec, TrainingGraphOptions options)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        const TensorProto.Types.DataType F = TensorProto.Types.DataType.Float;
        var g = new OnnxGraph(spec.Name + "-train-step");

        // Inputs.
        g.AddInput(TrainingGraph.BatchInput, F, ["B", .. spec.Input.Shape.Cast<object>()]);
        g.AddInput(TrainingGraph.LabelInput, TensorProto.Types.DataType.Int64, ["B"]);
        var parameterNames = spec.Parameters.Select(p => p.Name).ToArray();
        foreach (var p in spec.Parameters)
        {
            g.AddInput(p.Name, F, p.Shape.Cast<object>());
        }

        var stateSuffixes = options.Optimizer == OptimizerKind.Sgd ? new[] { MomentumBufferSuffix } : [ExpAvgSuffix, ExpAvgSqSuffix];
        var stateNames = new List<string>();
        foreach (var suffix in stateSuffixes)
        {
            foreach (var p in spec.Parameters)
            {
                g.AddInput(p.Name + suffix, F, p.Shape.Cast<object>());
                stateNames.Add(p.Name + suffix);
            }
        }

        if (options.ProximalTerm)
        {
            foreach (var p in spec.Parameters)
            {
                g.AddInput(p.Name + TrainingGraph.GlobalSuffix, F, p.Shape.Cast<object>());
            }
        }

        var dropoutLayers = new List<int>();
        for (var i = 0; i < spec.Layers.Count; i++)
        {
            if (spec.Layers[i] is DropoutLayer { Rate: > 0f })
            {
                dropoutLayers.Add(i);
                g.AddInput(TrainingGraph.DropoutMaskName(i), F, ["B", .. spec.ActivationShape(i).Cast<object>()]);
            }
        }

        var hyper = new List<string> { HyperParameterNames.LearningRate, HyperParameterNames.WeightDecay };
        hyper.AddRange(options.Optimizer == OptimizerKind.Sgd
            ? [HyperParameterNames.Momentum]
            : [HyperParameterNames.Beta1, HyperParameterNames.Beta2, HyperParameterNames.Epsilon, HyperParameterNames.Step]);
        if (options.ProximalTerm)
        {
            hyper.Add(HyperParameterNames.Mu);
        }

        foreach (var h in hyper)
        {
            g.AddInput(h, F, []);
        }

        // Forward.
        var forward = ForwardPass.Emit(g, spec, TrainingGraph.BatchInput, name => name, i => dropoutLayers.Contains(i) ? TrainingGraph.DropoutMaskName(i) : null);
        var acts = forward.Activations;
        var logits = acts[^1];

        // Loss: mean over the batch of -log softmax(logits)[y].
        var logp = g.Node("LogSoftmax", logits, Int("axis", 1));
        var oneHot = g.Node("OneHot", [TrainingGraph.LabelInput, g.ConstInt64(spec.ClassCount), g.Node("Constant", [], Tensor("value", FloatTensor(string.Empty, [2], [0f, 1f])))], Int("axis", -1));
        var batch = g.Node("Cast", [g.Node("Gather", [g.Node("Shape", logits), g.ConstInt64Scalar(0)])], Int("to", (long)F));
        var picked = g.Node("ReduceSum", [g.Node("Mul", [oneHot, logp])], Int("keepdims", 0));
        g.NodeTo("Neg", [g.Node("Div", [picked, batch])], [TrainingGraph.LossOutput]);
        g.AddOutput(TrainingGraph.LossOutput, F, []);

        // Backward: d loss / d logits = (softmax - onehot) / B.
        var grads = new Dictionary<string, string>(StringComparer.Ordinal);
        var firstParameterLayer = Enumerable.Range(0, spec.Layers.Count).First(i => spec.Layers[i].HasParameters);
        var dy = g.Node("Div", [g.Node("Sub", [g.Node("Exp", logp), oneHot]), batch]);
        var zero = g.ConstFloat(0f);
        for (var i = spec.Layers.Count - 1; i >= firstParameterLayer; i--)
        {
            // Layers before the first parameterized layer need no input gradient.
            var needInputGradient = i > firstParameterLayer;
            var x = acts[i];
            var weight = $"layers.{i}.weight";
            var bias = $"layers.{i}.bias";
            switch (spec.Layers[i])
            {
                case DenseLayer:
                    // y = x W^T + b: dW = dy^T x, db = sum_batch dy, dx = dy W.
                    grads[weight] = g.Node("Gemm", [dy, x], Int("transA", 1));
                    grads[bias] = g.Node("ReduceSum", [dy, g.ConstInt64(0)], Int("keepdims", 0));
                    dy = needInputGradient ? g.Node("MatMul", [dy, weight]) : dy;
                    break;
                case Conv2DLayer c:
                    {
                        var inShape = spec.ActivationShape(i);
                        var outShape = spec.ActivationShape(i + 1);
                        var remH = inShape[1] + (2 * c.Padding) - c.Kernel - (c.Stride * (outShape[1] - 1));
                        var remW = inShape[2] + (2 * c.Padding) - c.Kernel - (c.Stride * (outShape[2] - 1));
                        grads[bias] = g.Node("ReduceSum", [dy, g.ConstInt64(0, 2, 3)], Int("keepdims", 0));

                        // dW[f,c,i,j] = sum_{b,h,w} dy[b,f,h,w] * xpad[b,c,h*s+i,w*s+j]: a convolution of
                        // x^T [C,B,H,W] with dy^T [F,B,Ho,Wo] as kernel, dilated by the stride.
                        var xt = g.Node("Transpose", x, Ints("perm", 1, 0, 2, 3));
                        var dyt = g.Node("Transpose", dy, Ints("perm", 1, 0, 2, 3));
                        var dwt = g.Node(
                            "Conv",
                            [xt, dyt],
                            Ints("pads", c.Padding, c.Padding, c.Padding, c.Padding),
                            Ints("dilations", c.Stride, c.Stride),
                            Ints("strides", 1, 1));
                        if (remH > 0 || remW > 0)
                        {
                            // Rows and columns the forward windows never reached give a larger result; cut to k x k.
                            dwt = g.Node("Slice", [dwt, g.ConstInt64(0, 0), g.ConstInt64(c.Kernel, c.Kernel), g.ConstInt64(2, 3)]);
                        }

                        grads[weight] = g.Node("Transpose", dwt, Ints("perm", 1, 0, 2, 3));
                        if (needInputGradient)
                        {
                            // dx is the transposed convolution of dy with the same kernel; output_padding
                            // restores the rows and columns the floor in the forward output size dropped.
                            dy = g.Node(
                                "ConvTranspose",
                                [dy, weight],
                                Ints("kernel_shape", c.Kernel, c.Kernel),
                                Ints("strides", c.Stride, c.Stride),
                                Ints("pads", c.Padding, c.Padding, c.Padding, c.Padding),
                                Ints("output_padding", remH, remW));
                        }

                        break;
                    }

                case MaxPool2DLayer m when m.Stride >= m.Size:
                    // Windows do not overlap, so every input element is selected at most once and
                    // MaxUnpool (dy written at the Indices positions, zero elsewhere) is the gradient.
                    dy = g.Node("MaxUnpool", [dy, forward.PoolIndices[i]!, g.Node("Shape", x)], Ints("kernel_shape", m.Size, m.Size), Ints("strides", m.Stride, m.Stride));
                    break;
                case MaxPool2DLayer:
                    {
                        // Overlapping windows can select an element more than once, so the gradients must add:
                        // Indices are flat offsets into x (N*C*H*W); scatter-add into a flat zero tensor and reshape.
                        var flatShape = g.ConstInt64(1, -1);
                        var xFlat = g.Node("Reshape", [x, flatShape]);
                        var zeros = g.Node("ConstantOfShape", [g.Node("Shape", xFlat)], Tensor("value", FloatTensor(string.Empty, [1], [0f])));
                        var index = g.Node("Reshape", [forward.PoolIndices[i]!, flatShape]);
                        var updates = g.Node("Reshape", [dy, flatShape]);
                        var scattered = g.Node("ScatterElements", [zeros, index, updates], Int("axis", 1), Str("reduction", "add"));
                        dy = g.Node("Reshape", [scattered, g.Node("Shape", x)]);
                        break;
                    }

                case ReLULayer:
                    dy = g.Node("Where", [g.Node("Greater", [acts[i + 1], zero]), dy, zero]);
                    break;
                case FlattenLayer:
                    dy = g.Node("Reshape", [dy, g.Node("Shape", x)]);
                    break;
                case DropoutLayer:
                    if (dropoutLayers.Contains(i))
                    {
                        dy = g.Node("Mul", [dy, TrainingGraph.DropoutMaskName(i)]);
                    }

                    break;
                default:
                    throw new InvalidOperationException($"Unhandled layer {spec.Layers[i].Kind}.");
            }
        }

        // Optimizer update, PyTorch semantics.
        var lr = HyperParameterNames.LearningRate;
        var wd = HyperParameterNames.WeightDecay;
        string? stepSize = null, bc2Sqrt = null;
        if (options.Optimizer == OptimizerKind.Adam)
        {
            var one = g.ConstFloat(1f);
            var bc1 = g.Node("Sub", [one, g.Node("Pow", [HyperParameterNames.Beta1, HyperParameterNames.Step])]);
            var bc2 = g.Node("Sub", [one, g.Node("Pow", [HyperParameterNames.Beta2, HyperParameterNames.Step])]);
            stepSize = g.Node("Div", [lr, bc1]);
            bc2Sqrt = g.Node("Sqrt", bc2);
        }

        foreach (var p in spec.Parameters)
        {
            var name = p.Name;
            var grad = grads[name];
            if (options.EmitGradients)
            {
                g.NodeTo("Identity", [grad], [name + TrainingGraph.GradientSuffix]);
                g.AddOutput(name + TrainingGraph.GradientSuffix, F, p.Shape.Cast<object>());
            }

            if (options.ProximalTerm)
            {
                grad = g.Node("Add", [grad, g.Node("Mul", [HyperParameterNames.Mu, g.Node("Sub", [name, name + TrainingGraph.GlobalSuffix])])]);
            }

            grad = g.Node("Add", [grad, g.Node("Mul", [wd, name])]);
            var updated = name + TrainingGraph.UpdatedSuffix;
            if (options.Optimizer == OptimizerKind.Sgd)
            {
                // buf = momentum * buf + g (the first step's zero buffer makes buf = g, as in PyTorch); p -= lr * buf.
                var buf = name + MomentumBufferSuffix;
                var bufUpdated = buf + TrainingGraph.UpdatedSuffix;
                g.NodeTo("Add", [g.Node("Mul", [HyperParameterNames.Momentum, buf]), grad], [bufUpdated]);
                g.NodeTo("Sub", [name, g.Node("Mul", [lr, bufUpdated])], [updated]);
                g.AddOutput(updated, F, p.Shape.Cast<object>());
                g.AddOutput(bufUpdated, F, p.Shape.Cast<object>());
            }
            else
            {
                // m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
                var one = g.ConstFloat(1f);
                var m = name + ExpAvgSuffix;
                var v = name + ExpAvgSqSuffix;
                var mUpdated = m + TrainingGraph.UpdatedSuffix;
                var vUpdated = v + TrainingGraph.UpdatedSuffix;
                g.NodeTo("Add", [g.Node("Mul", [HyperParameterNames.Beta1, m]), g.Node("Mul", [g.Node("Sub", [one, HyperParameterNames.Beta1]), grad])], [mUpdated]);
                g.NodeTo("Add", [g.Node("Mul", [HyperParameterNames.Beta2, v]), g.Node("Mul", [g.Node("Sub", [one, HyperParameterNames.Beta2]), g.Node("Mul", [grad, grad])])], [vUpdated]);
                var denom = g.Node("Add", [g.Node("Div", [g.Node("Sqrt", vUpdated), bc2Sqrt!]), HyperParameterNames.Epsilon]);
                g.NodeTo("Sub", [name, g.Node("Mul", [stepSize!, g.Node("Div", [mUpdated, denom])])], [updated]);
                g.AddOutput(updated, F, p.Shape.Cast<object>());
                g.AddOutput(mUpdated, F, p.Shape.Cast<object>());
                g.AddOutput(vUpdated, F, p.Shape.Cast<object>());
            }
        }

        var bytes = g.ToModelBytes($"Fractal training step for '{spec.Name}' ({options.Optimizer}{(options.ProximalTerm ? ", FedProx" : string.Empty)}).");
        return new TrainingGraph(bytes, parameterNames, stateNames, hyper, dropoutLayers, options);
    }
}
