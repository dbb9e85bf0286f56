using System.Diagnostics;
using Fractal.Learning.Specs;
using Fractal.Learning.Training;

namespace Fractal.Benchmarks.Learning;

/// <summary>
/// Training throughput of the ONNX training-step graph (<see cref="LocalTrainer"/>, SGD with
/// momentum and weight decay as in NIID-Bench) against the same machine's ONNX Runtime
/// MatMul/Conv throughput at the step's shapes (<see cref="BareOps"/>), measured alternately in
/// the same run. The fraction is achieved step GFLOP/s over bare-operator GFLOP/s.
/// </summary>
internal static class TrainingBenchmark
{
    public static Task RunAsync(BenchArgs args)
    {
        var models = args.Strings("models", "mlp,cnn");
        var batch = args.Int("batch", 64);
        var steps = args.Int("steps", 40);
        var rounds = args.Int("rounds", 7);
        var threads = args.Int("threads", 1);
        Report.Line($"Batch {batch}, {threads} intra-op thread(s), {rounds} alternating rounds of {steps} steps; medians over rounds. Synthetic 0..255 inputs (throughput does not depend on the values).");
        Report.Line(string.Empty);

        var summary = new List<IReadOnlyList<string>>();
        var perOp = new List<IReadOnlyList<string>>();
        foreach (var name in models)
        {
            var spec = name == "mlp" ? ModelSpecs.Mlp() : ModelSpecs.SimpleCnn();
            var samples = batch * steps;
            var random = new Random(7);
            var images = new float[samples * spec.InputSize];
            for (var i = 0; i < images.Length; i++)
            {
                images[i] = random.Next(256);
            }

            var labels = Enumerable.Range(0, samples).Select(_ => random.Next(spec.ClassCount)).ToArray();
            var options = new LocalTrainerOptions { LearningRate = 0.01f, Momentum = 0.9f, WeightDecay = 1e-5f, IntraOpThreads = threads };
            using var trainer = new LocalTrainer(spec, options);
            using var bare = new BareOps(spec, batch, threads);

            // Warm-up: bindings, kernels' scratch buffers, JIT.
            trainer.TrainEpochs(images, labels, samples, 1, batch, seed: 0);
            foreach (var op in bare.Ops)
            {
                op.Run();
            }

            var stepSeconds = new List<double>();
            var opSeconds = bare.Ops.Select(_ => new List<double>()).ToArray();
            for (var r = 0; r < rounds; r++)
            {
                Report.Progress($"{name}: round {r + 1}/{rounds}");
                var start = Stopwatch.GetTimestamp();
                trainer.TrainEpochs(images, labels, samples, 1, batch, seed: r + 1);
                stepSeconds.Add(Stopwatch.GetElapsedTime(start).TotalSeconds / steps);

                for (var o = 0; o < bare.Ops.Count; o++)
                {
                    var op = bare.Ops[o];
                    start = Stopwatch.GetTimestamp();
                    for (var s = 0; s < steps; s++)
                    {
                        op.Run();
                    }

                    opSeconds[o].Add(Stopwatch.GetElapsedTime(start).TotalSeconds / steps);
                }
            }

            var step = Report.Median(stepSeconds);
            var opMedians = opSeconds.Select(Report.Median).ToArray();
            var bareStep = opMedians.Sum();
            var stepGflops = bare.Flops / step / 1e9;
            var bareGflops = bare.Flops / bareStep / 1e9;
            summary.Add(
            [
                spec.Name,
                Report.Number(bare.Flops / batch / 1e6, "0.00"),
                Report.Rate(batch / step),
                Report.Number(step * 1e3, "0.00"),
                Report.Number(stepGflops, "0.00"),
                Report.Number(bareStep * 1e3, "0.00"),
                Report.Number(bareGflops, "0.00"),
                Report.Ratio(stepGflops / bareGflops),
            ]);
            for (var o = 0; o < bare.Ops.Count; o++)
            {
                var op = bare.Ops[o];
                perOp.Add([spec.Name, op.Name, Report.Number(op.Flops / 1e6, "0.0"), Report.Number(opMedians[o] * 1e6, "0"), Report.Number(op.Flops / opMedians[o] / 1e9, "0.00")]);
            }
        }

        Report.Table(
            ["model", "MFLOP/sample (fwd+bwd MatMul/Conv)", "samples/s", "ms/step", "step GFLOP/s", "bare ops ms/step", "bare GFLOP/s", "fraction"],
            summary);
        Report.Table(["model", "operator (batch " + batch + ")", "MFLOP", "µs", "GFLOP/s"], perOp);
        return Task.CompletedTask;
    }
}
