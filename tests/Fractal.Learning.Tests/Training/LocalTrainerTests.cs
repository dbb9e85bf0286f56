using Fractal.Learning.Specs;
using Fractal.Learning.Training;

namespace Fractal.Learning.Tests.Training;

public sealed class LocalTrainerTests
{
    private const string SmallCnn = """
        {"schemaVersion": 1, "name": "small-cnn", "input": {"shape": [144], "scale": 0.00392156862745098, "reshape": [1, 12, 12]},
         "layers": [{"type": "conv2d", "filters": 4, "kernel": 3}, {"type": "relu"}, {"type": "maxpool2d", "size": 2},
                    {"type": "flatten"}, {"type": "dropout", "rate": 0.2}, {"type": "dense", "units": 16}, {"type": "relu"},
                    {"type": "dense", "units": 4}]}
        """;

    private const string SmallMlp = """
        {"schemaVersion": 1, "name": "small-mlp", "input": {"shape": [32], "scale": 0.00392156862745098},
         "layers": [{"type": "dense", "units": 16}, {"type": "relu"}, {"type": "dense", "units": 4}]}
        """;

    [Theory]
    [InlineData(SmallMlp, OptimizerKind.Sgd)]
    [InlineData(SmallMlp, OptimizerKind.Adam)]
    [InlineData(SmallCnn, OptimizerKind.Sgd)]
    [InlineData(SmallCnn, OptimizerKind.Adam)]
    public void TrainEpochs_SyntheticPrototypes_LossDecreasesAndAccuracyRises(string json, OptimizerKind optimizer)
    {
        var spec = ModelSpec.Parse(json);
        var (images, labels) = TestData.Prototypes(spec, 200, 1);
        var options = new LocalTrainerOptions
        {
            Optimizer = optimizer,
            LearningRate = optimizer == OptimizerKind.Sgd ? 0.05f : 0.005f,
            Momentum = 0.9f,
            WeightDecay = 1e-4f,
        };
        using var trainer = new LocalTrainer(spec, options, ModelParameters.Initialize(spec, 3));
        var before = trainer.Evaluate(images, labels, 200);

        var report = trainer.TrainEpochs(images, labels, 200, epochs: 5, batchSize: 32, seed: 4);

        Assert.Equal(5, report.EpochLosses.Count);
        Assert.Equal(5 * 7, report.Steps);
        Assert.True(report.FinalLoss < 0.5 * report.EpochLosses[0], $"losses {string.Join(", ", report.EpochLosses)}");
        var after = trainer.Evaluate(images, labels, 200);
        Assert.True(after > 0.9 && after > before, $"accuracy {before} -> {after}");
    }

    [Theory]
    [InlineData(OptimizerKind.Sgd, 0f)]
    [InlineData(OptimizerKind.Adam, 0f)]
    [InlineData(OptimizerKind.Sgd, 0.1f)]
    public void TrainEpochs_SameSeedAndThreads_BitwiseEqualParametersAndLosses(OptimizerKind optimizer, float mu)
    {
        var spec = ModelSpec.Parse(SmallCnn);
        var (images, labels) = TestData.Prototypes(spec, 100, 2);
        var options = new LocalTrainerOptions { Optimizer = optimizer, LearningRate = 0.01f, Momentum = 0.5f, ProximalMu = mu, IntraOpThreads = 2 };

        (TrainingReport Report, ModelParameters Parameters) Train()
        {
            using var trainer = new LocalTrainer(spec, options, ModelParameters.Initialize(spec, 5));
            var report = trainer.TrainEpochs(images, labels, 100, epochs: 2, batchSize: 16, seed: 6);
            return (report, trainer.GetParameters());
        }

        var a = Train();
        var b = Train();

        Assert.Equal(a.Report.EpochLosses, b.Report.EpochLosses);
        for (var i = 0; i < a.Parameters.Count; i++)
        {
            Assert.Equal(a.Parameters.Tensors[i].Data, b.Parameters.Tensors[i].Data);
        }
    }

    [Fact]
    public void TrainEpochs_DifferentSeed_DifferentParameters()
    {
        var spec = ModelSpec.Parse(SmallMlp);
        var (images, labels) = TestData.Prototypes(spec, 64, 2);
        using var trainer = new LocalTrainer(spec, null, ModelParameters.Initialize(spec, 5));

        trainer.TrainEpochs(images, labels, 64, epochs: 1, batchSize: 8, seed: 1);
        var first = trainer.GetParameters();
        trainer.SetParameters(ModelParameters.Initialize(spec, 5));
        trainer.TrainEpochs(images, labels, 64, epochs: 1, batchSize: 8, seed: 2);

        Assert.NotEqual(first.Tensors[0].Data, trainer.GetParameters().Tensors[0].Data);
    }

    [Fact]
    public void TrainEpochs_OddAndEvenStepCounts_MatchSingleStepGraphRuns()
    {
        // Three steps end in buffer set B; the double-buffered bindings must hand each step's
        // outputs to the next step exactly like running the graph by name three times.
        var spec = ModelSpec.Parse(SmallMlp);
        var (images, labels) = TestData.Prototypes(spec, 12, 3);
        var initial = ModelParameters.Initialize(spec, 9);
        using var trainer = new LocalTrainer(spec, new LocalTrainerOptions { LearningRate = 0.1f, Momentum = 0.9f }, initial.Clone());

        var report = trainer.TrainEpochs(images, labels, 12, epochs: 1, batchSize: 4, seed: 0);

        Assert.Equal(3, report.Steps);
        var order = ShuffledOrder(12, 0);
        using var runner = new StepRunner(spec, new TrainingGraphOptions());
        var parameters = initial;
        var state = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var hyper = new Dictionary<string, float> { [HyperParameterNames.LearningRate] = 0.1f, [HyperParameterNames.Momentum] = 0.9f };
        for (var step = 0; step < 3; step++)
        {
            var x = new float[4 * spec.InputSize];
            var y = new long[4];
            for (var j = 0; j < 4; j++)
            {
                Array.Copy(images, order[(step * 4) + j] * spec.InputSize, x, j * spec.InputSize, spec.InputSize);
                y[j] = labels[order[(step * 4) + j]];
            }

            var outputs = runner.Run(parameters, x, y, hyper, extra: state);
            parameters = new ModelParameters(parameters.Tensors.Select(t => new ParameterTensor(t.Name, t.Shape, outputs[t.Name + TrainingGraph.UpdatedSuffix])));
            foreach (var s in runner.Graph.StateNames)
            {
                state[s] = outputs[s + TrainingGraph.UpdatedSuffix];
            }
        }

        var trained = trainer.GetParameters();
        for (var i = 0; i < trained.Count; i++)
        {
            Assert.Equal(parameters.Tensors[i].Data, trained.Tensors[i].Data);
        }
    }

    [Fact]
    public void TrainEpochs_CountNotMultipleOfBatch_UsesTailBatch()
    {
        var spec = ModelSpec.Parse(SmallMlp);
        var (images, labels) = TestData.Prototypes(spec, 50, 3);
        using var trainer = new LocalTrainer(spec);

        var report = trainer.TrainEpochs(images, labels, 50, epochs: 2, batchSize: 16, seed: 0);

        Assert.Equal(8, report.Steps);
        Assert.Equal(8, trainer.StepCount);
        Assert.All(report.EpochLosses, l => Assert.True(double.IsFinite(l)));
    }

    [Fact]
    public void TrainEpochs_ManyDifferentTailSizes_MatchesFreshTrainerEveryCall()
    {
        // Batch 8 with 17..23 samples gives tail batches of 1..7: more batch sizes than the trainer
        // caches. Each new tail size evicts a cached binding; it must never be the full-size
        // binding the same call is using (that was a use-after-dispose crash inside ONNX Runtime).
        var spec = ModelSpec.Parse(SmallMlp);
        var (images, labels) = TestData.Prototypes(spec, 64, 5);
        var initial = ModelParameters.Initialize(spec, 2);
        var options = new LocalTrainerOptions { LearningRate = 0.05f, Momentum = 0.9f };
        using var shared = new LocalTrainer(spec, options, initial);

        foreach (var count in new[] { 17, 18, 19, 20, 21, 22, 23, 17, 64, 19 })
        {
            shared.SetParameters(initial);
            var report = shared.TrainEpochs(images, labels, count, epochs: 2, batchSize: 8, seed: count);
            using var fresh = new LocalTrainer(spec, options, initial);
            var expected = fresh.TrainEpochs(images, labels, count, epochs: 2, batchSize: 8, seed: count);

            Assert.Equal(expected.Steps, report.Steps);
            Assert.Equal(expected.EpochLosses, report.EpochLosses);
            var trained = shared.GetParameters();
            var reference = fresh.GetParameters();
            for (var i = 0; i < trained.Count; i++)
            {
                Assert.Equal(reference.Tensors[i].Data, trained.Tensors[i].Data);
            }
        }
    }

    [Fact]
    public void TrainEpochs_MoreSteps_AllocatesNothingPerStep()
    {
        var spec = ModelSpec.Parse(SmallCnn);
        var (images, labels) = TestData.Prototypes(spec, 64, 3);
        using var trainer = new LocalTrainer(spec, new LocalTrainerOptions { Optimizer = OptimizerKind.Adam });
        trainer.TrainEpochs(images, labels, 64, epochs: 1, batchSize: 32, seed: 0);
        trainer.TrainEpochs(images, labels, 64, epochs: 1, batchSize: 4, seed: 0);

        var start = GC.GetAllocatedBytesForCurrentThread();
        trainer.TrainEpochs(images, labels, 64, epochs: 1, batchSize: 32, seed: 0);
        var twoSteps = GC.GetAllocatedBytesForCurrentThread() - start;
        start = GC.GetAllocatedBytesForCurrentThread();
        trainer.TrainEpochs(images, labels, 64, epochs: 1, batchSize: 4, seed: 0);
        var sixteenSteps = GC.GetAllocatedBytesForCurrentThread() - start;

        // Both calls allocate the same per-call bookkeeping (shuffle order, report); 14 extra steps add nothing.
        Assert.Equal(twoSteps, sixteenSteps);
    }

    [Fact]
    public void SetParameters_ThenGetParameters_ReturnsSameValues()
    {
        var spec = ModelSpec.Parse(SmallCnn);
        var parameters = ModelParameters.Initialize(spec, 12);
        using var trainer = new LocalTrainer(spec);

        trainer.SetParameters(parameters);
        var read = trainer.GetParameters();

        for (var i = 0; i < parameters.Count; i++)
        {
            Assert.Equal(parameters.Tensors[i].Data, read.Tensors[i].Data);
            Assert.NotSame(parameters.Tensors[i].Data, read.Tensors[i].Data);
        }
    }

    [Fact]
    public void TrainEpochs_ProximalTermWithHugeMu_StaysNearGlobalModel()
    {
        var spec = ModelSpec.Parse(SmallMlp);
        var (images, labels) = TestData.Prototypes(spec, 64, 4);
        var global = ModelParameters.Initialize(spec, 1);

        double Drift(float mu)
        {
            using var trainer = new LocalTrainer(spec, new LocalTrainerOptions { LearningRate = 0.05f, ProximalMu = mu }, global.Clone());
            trainer.TrainEpochs(images, labels, 64, epochs: 3, batchSize: 8, seed: 1);
            var trained = trainer.GetParameters();
            return trained.Tensors.Zip(global.Tensors).Sum(p => p.First.Data.Zip(p.Second.Data).Sum(v => (double)(v.First - v.Second) * (v.First - v.Second)));
        }

        Assert.True(Drift(10f) < 0.2 * Drift(0f));
    }

    [Fact]
    public void TrainEpochs_AbsurdLearningRate_ReportsDivergence()
    {
        var spec = ModelSpec.Parse(SmallMlp);
        var (images, labels) = TestData.Prototypes(spec, 64, 4);
        using var trainer = new LocalTrainer(spec, new LocalTrainerOptions { LearningRate = 1e30f });

        var report = trainer.TrainEpochs(images, labels, 64, epochs: 3, batchSize: 8, seed: 1);

        Assert.True(report.Diverged, $"losses {string.Join(", ", report.EpochLosses)}");
    }

    [Fact]
    public void TrainEpochs_SensibleLearningRate_DoesNotReportDivergence()
    {
        var spec = ModelSpec.Parse(SmallMlp);
        var (images, labels) = TestData.Prototypes(spec, 64, 4);
        using var trainer = new LocalTrainer(spec, new LocalTrainerOptions { LearningRate = 0.01f });

        var report = trainer.TrainEpochs(images, labels, 64, epochs: 1, batchSize: 8, seed: 1);

        Assert.False(report.Diverged);
    }

    [Fact]
    public void TrainEpochs_LabelOutOfRange_ThrowsNamingTheSample()
    {
        var spec = ModelSpec.Parse(SmallMlp);
        using var trainer = new LocalTrainer(spec);
        var images = new float[3 * spec.InputSize];

        var ex = Assert.Throws<ArgumentException>(() => trainer.TrainEpochs(images, [0, 1, 4], 3, 1, 2, 0));

        Assert.Contains("Label 2 is 4", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TrainEpochs_TooFewImageValues_Throws()
    {
        var spec = ModelSpec.Parse(SmallMlp);
        using var trainer = new LocalTrainer(spec);

        Assert.Throws<ArgumentException>(() => trainer.TrainEpochs(new float[10], [0, 1], 2, 1, 2, 0));
    }

    [Fact]
    public void Constructor_InvalidOption_ThrowsNamingTheKey()
    {
        var ex = Assert.Throws<ArgumentException>(() => new LocalTrainer(ModelSpec.Parse(SmallMlp), new LocalTrainerOptions { LearningRate = float.NaN }));

        Assert.Contains("LearningRate", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Evaluate_UntrainedVersusIdealParameters_ReportsAccuracy()
    {
        // A dense layer whose weights equal the one-hot inputs classifies them perfectly.
        var spec = ModelSpec.Parse("""{"schemaVersion": 1, "name": "id", "input": {"shape": [3]}, "layers": [{"type": "dense", "units": 3}]}""");
        var ideal = new ModelParameters([new ParameterTensor("layers.0.weight", [3, 3], [5, 0, 0, 0, 5, 0, 0, 0, 5]), new ParameterTensor("layers.0.bias", [3], new float[3])]);
        float[] images = [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0];
        int[] labels = [0, 1, 2, 0];
        using var trainer = new LocalTrainer(spec);

        var accuracy = trainer.Evaluate(ideal, images, labels, 4);

        Assert.Equal(0.75, accuracy);
    }

    private static int[] ShuffledOrder(int count, int seed)
    {
        var random = new DeterministicRandom(seed);
        var order = Enumerable.Range(0, count).ToArray();
        for (var i = count - 1; i > 0; i--)
        {
            var j = random.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }

        return order;
    }
}
