using Fractal.Learning.Onnx;
using Fractal.Learning.Specs;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace Fractal.Benchmarks.Learning;

/// <summary>
/// The MatMul/Conv work of one training step of a spec, as separate one-operator ONNX graphs at
/// the shapes the step graph uses: per parameterized layer the forward product, the weight
/// gradient and (after the first parameterized layer) the input gradient. Each runs alone on
/// ONNX Runtime with preallocated inputs and outputs; their achieved GFLOP/s is the compute
/// limit the whole step graph is set against.
/// </summary>
/// <remarks>
/// Weights are graph inputs, not initializers, as in the step graph: ONNX Runtime may prepack
/// constant weights, which a training step cannot use. The operator formulations are the step
/// graph's own (TrainingGraphBuilder): Dense dW = Gemm(dy, x, transA), dx = MatMul(dy, W);
/// Conv dW = Conv(x^T, dy^T) with the batch as channels, dx = ConvTranspose(dy, W). FLOPs count
/// multiply-adds as two; bias, activation, pooling and optimizer work is not counted.
/// </remarks>
internal sealed class BareOps : IDisposable
{
    private readonly List<BareOp> _ops = [];

    public BareOps(ModelSpec spec, int batch, int intraOpThreads)
    {
        var first = Enumerable.Range(0, spec.Layers.Count).First(i => spec.Layers[i].HasParameters);
        for (var i = first; i < spec.Layers.Count; i++)
        {
            var input = spec.ActivationShape(i);
            var output = spec.ActivationShape(i + 1);
            switch (spec.Layers[i])
            {
                case DenseLayer d:
                    {
                        var inputs = input[0];
                        var flops = 2.0 * batch * inputs * d.Units;
                        _ops.Add(BareOp.Create($"L{i} dense fwd  [{batch}x{inputs}]x[{inputs}x{d.Units}]", "Gemm", [[batch, inputs], [d.Units, inputs]], [batch, d.Units], flops, intraOpThreads, OnnxGraph.Int("transB", 1)));
                        _ops.Add(BareOp.Create($"L{i} dense dW   [{d.Units}x{batch}]x[{batch}x{inputs}]", "Gemm", [[batch, d.Units], [batch, inputs]], [d.Units, inputs], flops, intraOpThreads, OnnxGraph.Int("transA", 1)));
                        if (i > first)
                        {
                            _ops.Add(BareOp.Create($"L{i} dense dx   [{batch}x{d.Units}]x[{d.Units}x{inputs}]", "MatMul", [[batch, d.Units], [d.Units, inputs]], [batch, inputs], flops, intraOpThreads));
                        }

                        break;
                    }

                case Conv2DLayer c:
                    {
                        int channels = input[0], h = input[1], w = input[2], ho = output[1], wo = output[2];
                        var flops = 2.0 * batch * c.Filters * channels * c.Kernel * c.Kernel * ho * wo;
                        var pads = OnnxGraph.Ints("pads", c.Padding, c.Padding, c.Padding, c.Padding);
                        _ops.Add(BareOp.Create(
                            $"L{i} conv fwd   {batch}x{channels}x{h}x{w} * {c.Filters}x{channels}x{c.Kernel}x{c.Kernel}",
                            "Conv",
                            [[batch, channels, h, w], [c.Filters, channels, c.Kernel, c.Kernel]],
                            [batch, c.Filters, ho, wo],
                            flops,
                            intraOpThreads,
                            pads,
                            OnnxGraph.Ints("strides", c.Stride, c.Stride)));

                        // The weight gradient as the step graph computes it (exact for stride 1, the
                        // examples' case; a larger stride dilates the kernel and may need a slice).
                        var kh = h + (2 * c.Padding) - (c.Stride * (ho - 1));
                        var kw = w + (2 * c.Padding) - (c.Stride * (wo - 1));
                        _ops.Add(BareOp.Create(
                            $"L{i} conv dW    {channels}x{batch}x{h}x{w} * {c.Filters}x{batch}x{ho}x{wo}",
                            "Conv",
                            [[channels, batch, h, w], [c.Filters, batch, ho, wo]],
                            [channels, c.Filters, kh, kw],
                            flops,
                            intraOpThreads,
                            pads,
                            OnnxGraph.Ints("dilations", c.Stride, c.Stride)));
                        if (i > first)
                        {
                            _ops.Add(BareOp.Create(
                                $"L{i} conv dx    ConvTranspose {batch}x{c.Filters}x{ho}x{wo}",
                                "ConvTranspose",
                                [[batch, c.Filters, ho, wo], [c.Filters, channels, c.Kernel, c.Kernel]],
                                [batch, channels, h, w],
                                flops,
                                intraOpThreads,
                                pads,
                                OnnxGraph.Ints("strides", c.Stride, c.Stride),
                                OnnxGraph.Ints("kernel_shape", c.Kernel, c.Kernel)));
                        }

                        break;
                    }

                default:
                    break;
            }
        }
    }

    public IReadOnlyList<BareOp> Ops => _ops;

    /// <summary>FLOPs of one training step at this batch size.</summary>
    public double Flops => _ops.Sum(o => o.Flops);

    public void Dispose()
    {
        foreach (var op in _ops)
        {
            op.Dispose();
        }
    }
}

/// <summary>One operator in its own session, inputs filled with small random values.</summary>
internal sealed class BareOp : IDisposable
{
    private readonly InferenceSession _session;
    private readonly SessionOptions _options;
    private readonly RunOptions _runOptions = new();
    private readonly OrtValue[] _inputs;
    private readonly OrtValue[] _outputs;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames = ["c"];

    private BareOp(string name, double flops, InferenceSession session, SessionOptions options, OrtValue[] inputs, string[] inputNames, OrtValue[] outputs)
    {
        Name = name;
        Flops = flops;
        _session = session;
        _options = options;
        _inputs = inputs;
        _inputNames = inputNames;
        _outputs = outputs;
    }

    public string Name { get; }

    public double Flops { get; }

    public static BareOp Create(string name, string op, int[][] inputShapes, int[] outputShape, double flops, int intraOpThreads, params AttributeProto[] attributes)
    {
        var graph = new OnnxGraph("bare-" + op);
        var names = new string[inputShapes.Length];
        for (var i = 0; i < inputShapes.Length; i++)
        {
            names[i] = ((char)('a' + i)).ToString();
            graph.AddInput(names[i], TensorProto.Types.DataType.Float, inputShapes[i].Cast<object>());
        }

        graph.NodeTo(op, names, ["c"], attributes);
        graph.AddOutput("c", TensorProto.Types.DataType.Float, outputShape.Cast<object>());

        // The trainer's session settings (LocalTrainer.CreateSessionOptions).
        var options = new SessionOptions
        {
            IntraOpNumThreads = intraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        var session = new InferenceSession(graph.ToModelBytes("bare operator benchmark"), options);

        var random = new Random(1);
        var inputs = inputShapes.Select(s =>
        {
            var data = new float[s.Aggregate(1, (a, b) => a * b)];
            for (var i = 0; i < data.Length; i++)
            {
                data[i] = random.NextSingle() - 0.5f;
            }

            return OrtValue.CreateTensorValueFromMemory(data, s.Select(d => (long)d).ToArray());
        }).ToArray();
        var outputs = new[] { OrtValue.CreateTensorValueFromMemory(new float[outputShape.Aggregate(1, (a, b) => a * b)], outputShape.Select(d => (long)d).ToArray()) };

        // A shape mismatch shows up here rather than in the timed loop.
        using (var check = new RunOptions())
        {
            session.Run(check, names, inputs, ["c"], outputs);
        }

        return new BareOp(name, flops, session, options, inputs, names, outputs);
    }

    public void Run() => _session.Run(_runOptions, _inputNames, _inputs, _outputNames, _outputs);

    public void Dispose()
    {
        foreach (var v in _inputs.Concat(_outputs))
        {
            v.Dispose();
        }

        _runOptions.Dispose();
        _session.Dispose();
        _options.Dispose();
    }
}
