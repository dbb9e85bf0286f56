using Fractal.Learning.Specs;
using Fractal.Learning.Training;

namespace Fractal.Learning.Tests.Training;

public sealed class TrainingGraphBuilderTests
{
    /// <summary>Small specs that together cover every layer type, stride and padding, floor remainders and overlapping pools.</summary>
    public static TheoryData<string, string> GradientSpecs => new()
    {
        {
            "dense-relu-dropout",
            """
            {"schemaVersion": 1, "name": "g1", "input": {"shape": [6], "scale": 0.5, "offset": -0.25},
             "layers": [{"type": "dense", "units": 5}, {"type": "relu"}, {"type": "dropout", "rate": 0.5},
                        {"type": "dense", "units": 4}, {"type": "relu"}, {"type": "dense", "units": 3}]}
            """
        },
        {
            "conv-stride-padding-overlapping-pool",
            """
            {"schemaVersion": 1, "name": "g2", "input": {"shape": [128], "reshape": [2, 8, 8]},
             "layers": [{"type": "conv2d", "filters": 3, "kernel": 3, "stride": 2, "padding": 1},
                        {"type": "maxpool2d", "size": 2, "stride": 1}, {"type": "relu"},
                        {"type": "conv2d", "filters": 4, "kernel": 2}, {"type": "relu"},
                        {"type": "flatten"}, {"type": "dense", "units": 3}]}
            """
        },
        {
            "pool-with-gaps-and-padding",
            """
            {"schemaVersion": 1, "name": "g4", "input": {"shape": [1, 6, 6], "offset": 0.1},
             "layers": [{"type": "conv2d", "filters": 2, "kernel": 2, "padding": 1}, {"type": "maxpool2d", "size": 2, "stride": 3},
                        {"type": "relu"}, {"type": "flatten"}, {"type": "dense", "units": 3}]}
            """
        },
        {
            "niid-like",
            """
            {"schemaVersion": 1, "name": "g3", "input": {"shape": [1, 13, 13]},
             "layers": [{"type": "conv2d", "filters": 2, "kernel": 5}, {"type": "relu"},
                        {"type": "maxpool2d", "size": 2}, {"type": "conv2d", "filters": 3, "kernel": 3, "stride": 2},
                        {"type": "flatten"}, {"type": "dropout", "rate": 0.25}, {"type": "dense", "units": 4}]}
            """
        },
    };

    [Theory]
    [InlineData(ModelSpecs.MlpResource, OptimizerKind.Sgd, false)]
    [InlineData(ModelSpecs.SimpleCnnResource, OptimizerKind.Sgd, false)]
    [InlineData(ModelSpecs.SimpleCnnResource, OptimizerKind.Adam, false)]
    [InlineData(ModelSpecs.MlpResource, OptimizerKind.Adam, true)]
    [InlineData(ModelSpecs.SimpleCnnResource, OptimizerKind.Sgd, true)]
    public async Task Build_ExampleSpec_PassesOnnxChecker(string resource, OptimizerKind optimizer, bool proximal)
    {
        var spec = ModelSpec.Parse(ModelSpecs.ReadJson(resource));

        var graph = TrainingGraphBuilder.Build(spec, new TrainingGraphOptions { Optimizer = optimizer, ProximalTerm = proximal, EmitGradients = true });

        await OnnxChecker.AssertValidAsync(graph.Model);
    }

    [Theory]
    [MemberData(nameof(GradientSpecs))]
    public async Task Build_GradientSpec_PassesOnnxChecker(string name, string json)
    {
        var graph = TrainingGraphBuilder.Build(ModelSpec.Parse(json), new TrainingGraphOptions { EmitGradients = true });

        Assert.NotEmpty(name);
        await OnnxChecker.AssertValidAsync(graph.Model);
    }

    [Theory]
    [MemberData(nameof(GradientSpecs))]
    public void Gradients_EveryLayerType_MatchFloat64FiniteDifferences(string name, string json)
    {
        var spec = ModelSpec.Parse(json);
        const int batch = 4;
        var parameters = TestData.Parameters(spec, 17);
        var x = TestData.Uniform(batch * spec.InputSize, 23);
        long[] y = [0, 2, 1, 2];
        var masks = Masks(spec, batch);
        using var runner = new StepRunner(spec, new TrainingGraphOptions { EmitGradients = true });

        var outputs = runner.Run(parameters, x, y, new Dictionary<string, float>(), masks);

        var reference = ReferenceModel.ToDouble(parameters);
        Assert.Equal(ReferenceModel.Loss(spec, reference, x, y, masks), outputs[TrainingGraph.LossOutput][0], 5);
        const double h = 1e-6;
        var checkedCount = 0;
        foreach (var t in parameters.Tensors)
        {
            var grad = outputs[t.Name + TrainingGraph.GradientSuffix];
            var values = reference[t.Name];
            var stride = Math.Max(1, values.Length / 12);
            for (var i = 0; i < values.Length; i += stride)
            {
                var saved = values[i];
                values[i] = saved + h;
                var plus = ReferenceModel.Loss(spec, reference, x, y, masks);
                values[i] = saved - h;
                var minus = ReferenceModel.Loss(spec, reference, x, y, masks);
                values[i] = saved;
                var numeric = (plus - minus) / (2 * h);
                Assert.True(
                    Math.Abs(numeric - grad[i]) <= 1e-4 + (1e-3 * Math.Abs(numeric)),
                    $"{name}: d loss / d {t.Name}[{i}] is {grad[i]} from the graph but {numeric} by finite differences");
                checkedCount++;
            }
        }

        Assert.True(checkedCount > 20, $"{name}: only {checkedCount} gradient entries checked");
    }

    [Fact]
    public void Sgd_MomentumWeightDecayAndProximalTerm_FollowPyTorchUpdate()
    {
        var spec = ModelSpec.Parse(GradientSpecs.Select(r => (string)r[1]).First());
        const int batch = 4;
        var parameters = TestData.Parameters(spec, 5);
        var x = TestData.Uniform(batch * spec.InputSize, 6);
        long[] y = [1, 0, 2, 1];
        var masks = Masks(spec, batch);
        var extra = new Dictionary<string, float[]>(StringComparer.Ordinal);
        foreach (var t in parameters.Tensors)
        {
            extra[t.Name + TrainingGraphBuilder.MomentumBufferSuffix] = TestData.Uniform(t.Data.Length, t.Data.Length);
            extra[t.Name + TrainingGraph.GlobalSuffix] = TestData.Uniform(t.Data.Length, t.Data.Length + 1);
        }

        var hyper = new Dictionary<string, float>
        {
            [HyperParameterNames.LearningRate] = 0.1f,
            [HyperParameterNames.Momentum] = 0.9f,
            [HyperParameterNames.WeightDecay] = 0.01f,
            [HyperParameterNames.Mu] = 0.5f,
        };
        using var runner = new StepRunner(spec, new TrainingGraphOptions { ProximalTerm = true, EmitGradients = true });

        var outputs = runner.Run(parameters, x, y, hyper, masks, extra);

        foreach (var t in parameters.Tensors)
        {
            var grad = outputs[t.Name + TrainingGraph.GradientSuffix];
            var buf = extra[t.Name + TrainingGraphBuilder.MomentumBufferSuffix];
            var global = extra[t.Name + TrainingGraph.GlobalSuffix];
            var newBuf = outputs[t.Name + TrainingGraphBuilder.MomentumBufferSuffix + TrainingGraph.UpdatedSuffix];
            var newP = outputs[t.Name + TrainingGraph.UpdatedSuffix];
            for (var i = 0; i < t.Data.Length; i++)
            {
                var p = t.Data[i];
                var g = grad[i] + (0.5 * (p - global[i])) + (0.01 * p);
                var b = (0.9 * buf[i]) + g;
                Assert.Equal(b, newBuf[i], 5);
                Assert.Equal(p - (0.1 * b), newP[i], 5);
            }
        }
    }

    [Fact]
    public void Adam_TwoSteps_FollowPyTorchUpdate()
    {
        var spec = ModelSpec.Parse(GradientSpecs.Select(r => (string)r[1]).Last());
        const int batch = 4;
        var parameters = TestData.Parameters(spec, 8);
        var x = TestData.Uniform(batch * spec.InputSize, 9);
        long[] y = [3, 0, 2, 1];
        var masks = Masks(spec, batch);
        var hyper = new Dictionary<string, float>
        {
            [HyperParameterNames.LearningRate] = 0.01f,
            [HyperParameterNames.WeightDecay] = 0.001f,
            [HyperParameterNames.Beta1] = 0.9f,
            [HyperParameterNames.Beta2] = 0.999f,
            [HyperParameterNames.Epsilon] = 1e-8f,
        };
        using var runner = new StepRunner(spec, new TrainingGraphOptions { Optimizer = OptimizerKind.Adam, EmitGradients = true });
        var state = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var expectedM = parameters.Tensors.ToDictionary(t => t.Name, t => new double[t.Data.Length]);
        var expectedV = parameters.Tensors.ToDictionary(t => t.Name, t => new double[t.Data.Length]);

        for (var step = 1; step <= 2; step++)
        {
            hyper[HyperParameterNames.Step] = step;
            var outputs = runner.Run(parameters, x, y, hyper, masks, state);
            var next = new List<ParameterTensor>();
            foreach (var t in parameters.Tensors)
            {
                var grad = outputs[t.Name + TrainingGraph.GradientSuffix];
                var newP = outputs[t.Name + TrainingGraph.UpdatedSuffix];
                for (var i = 0; i < t.Data.Length; i++)
                {
                    var g = grad[i] + (0.001 * t.Data[i]);
                    var m = expectedM[t.Name][i] = (0.9 * expectedM[t.Name][i]) + (0.1 * g);
                    var v = expectedV[t.Name][i] = (0.999 * expectedV[t.Name][i]) + (0.001 * g * g);
                    var denom = (Math.Sqrt(v) / Math.Sqrt(1 - Math.Pow(0.999, step))) + 1e-8;
                    var expected = t.Data[i] - (0.01 / (1 - Math.Pow(0.9, step)) * m / denom);
                    Assert.True(Math.Abs(expected - newP[i]) <= 1e-5, $"step {step}: {t.Name}[{i}] is {newP[i]}, expected {expected}");
                }

                state[t.Name + TrainingGraphBuilder.ExpAvgSuffix] = outputs[t.Name + TrainingGraphBuilder.ExpAvgSuffix + TrainingGraph.UpdatedSuffix];
                state[t.Name + TrainingGraphBuilder.ExpAvgSqSuffix] = outputs[t.Name + TrainingGraphBuilder.ExpAvgSqSuffix + TrainingGraph.UpdatedSuffix];
                next.Add(new ParameterTensor(t.Name, t.Shape, newP));
            }

            parameters = new ModelParameters(next);
        }
    }

    [Fact]
    public void Build_Sgd_DeclaresDocumentedInputsAndOutputs()
    {
        var spec = ModelSpec.Parse(GradientSpecs.Select(r => (string)r[1]).First());

        var graph = TrainingGraphBuilder.Build(spec, new TrainingGraphOptions());

        Assert.Equal(spec.Parameters.Select(p => p.Name), graph.ParameterNames);
        Assert.Equal(spec.Parameters.Select(p => p.Name + TrainingGraphBuilder.MomentumBufferSuffix), graph.StateNames);
        Assert.Equal([HyperParameterNames.LearningRate, HyperParameterNames.WeightDecay, HyperParameterNames.Momentum], graph.HyperParameterNames);
        Assert.Equal([2], graph.DropoutLayers);
    }

    private static Dictionary<int, float[]> Masks(ModelSpec spec, int batch)
    {
        var masks = new Dictionary<int, float[]>();
        var random = new Random(99);
        for (var i = 0; i < spec.Layers.Count; i++)
        {
            if (spec.Layers[i] is DropoutLayer { Rate: > 0f } d)
            {
                var size = batch * spec.ActivationShape(i).Aggregate(1, (a, v) => a * v);
                masks[i] = [.. Enumerable.Range(0, size).Select(_ => random.NextSingle() < d.Rate ? 0f : 1f / (1f - d.Rate))];
            }
        }

        return masks;
    }
}
