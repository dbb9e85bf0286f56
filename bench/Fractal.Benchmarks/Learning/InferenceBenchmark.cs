using System.Diagnostics;
using Fractal.Agent.Inference;
using Fractal.Agent.Inference.Models;
using Fractal.Agent.Inference.Training;
using Fractal.Learning.Onnx;
using Fractal.Learning.Specs;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace Fractal.Benchmarks.Learning;

/// <summary>
/// Per-call latency at batch 1 through the node's model runtime (<see cref="IModelRuntime.Predict(ReadOnlySpan{float}, Span{float})"/>:
/// slot read, reference count, pooled buffers, copy in, run, copy out, arg-max) against a bare
/// ONNX Runtime call on the same model bytes with the same session options (copy in, Run on
/// preallocated OrtValues), alternating call by call in the same run.
/// </summary>
internal static class InferenceBenchmark
{
    public static async Task RunAsync(BenchArgs args)
    {
        var models = args.Strings("models", "mlp,cnn");
        var calls = args.Int("calls", 20_000);
        var threads = args.Int("threads", 1);
        Report.Line($"Batch 1, {threads} intra-op thread(s), {calls} calls per side, alternating call by call after a warm-up; one caller thread.");
        Report.Line(string.Empty);

        var rows = new List<IReadOnlyList<string>>();
        foreach (var name in models)
        {
            var spec = name == "mlp" ? ModelSpecs.Mlp() : ModelSpecs.SimpleCnn();
            var bytes = InferenceModelBuilder.Build(spec, ModelParameters.Initialize(spec, 1));
            var random = new Random(3);
            var samples = Enumerable.Range(0, 64).Select(_ => Enumerable.Range(0, spec.InputSize).Select(_ => (float)random.Next(256)).ToArray()).ToArray();

            using var runtime = new ModelRuntime(Options.Create(new InferenceOptions { IntraOpThreads = threads }), NullLogger<ModelRuntime>.Instance);
            runtime.Activate("bench-1", spec, bytes);
            using var bare = new BareSession(bytes, spec, threads);

            var probabilities = new float[spec.ClassCount];
            var runtimeTimes = new double[calls];
            var bareTimes = new double[calls];
            for (var i = 0; i < 2_000; i++)
            {
                runtime.Predict(samples[i % samples.Length], probabilities);
                bare.Run(samples[i % samples.Length]);
            }

            // Calls alternate one by one (the side going first alternates too), so preemption by
            // other processes, which sets the p99 on a loaded machine, hits both sides alike.
            for (var i = 0; i < calls; i++)
            {
                if (i % 10_000 == 0)
                {
                    Report.Progress($"{name}: call {i}/{calls}");
                }

                var sample = samples[i % samples.Length];
                for (var side = 0; side < 2; side++)
                {
                    var useRuntime = (side == 0) == (i % 2 == 0);
                    var start = Stopwatch.GetTimestamp();
                    if (useRuntime)
                    {
                        runtime.Predict(sample, probabilities);
                    }
                    else
                    {
                        bare.Run(sample);
                    }

                    (useRuntime ? runtimeTimes : bareTimes)[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
                }
            }

            var (runtime50, runtime99) = Percentiles(runtimeTimes.AsSpan());
            var (bare50, bare99) = Percentiles(bareTimes.AsSpan());
            rows.Add(LatencyRow(spec.Name, bare50, runtime50, bare99, runtime99));
        }

        Report.Table(["model", "bare p50 µs", "runtime p50 µs", "added p50", "bare p99 µs", "runtime p99 µs", "added p99"], rows);
        if (args.Strings("during-training", "true")[0] == "true")
        {
            await DuringTrainingAsync(models, calls, threads, args.Int("phases", 3));
        }
    }

    /// <summary>
    /// The runtime's latency while a local training job runs (TrainingJobRunner, one intra-op
    /// thread) against the same calls with no job, in alternating phases of the same run.
    /// </summary>
    private static async Task DuringTrainingAsync(IReadOnlyList<string> models, int calls, int threads, int phases)
    {
        Report.Line(string.Empty);
        Report.Line($"During local training: {phases} phases without and {phases} with a training job (TrainingJobRunner, 1 intra-op thread, batch 64, the same model), alternating; {calls / phases} runtime calls per phase.");
        Report.Line(string.Empty);
        var rows = new List<IReadOnlyList<string>>();
        var options = Options.Create(new InferenceOptions { IntraOpThreads = threads, TrainingIntraOpThreads = 1 });
        foreach (var name in models)
        {
            var spec = name == "mlp" ? ModelSpecs.Mlp() : ModelSpecs.SimpleCnn();
            var parameters = ModelParameters.Initialize(spec, 1);
            var random = new Random(5);
            var samples = Enumerable.Range(0, 64).Select(_ => Enumerable.Range(0, spec.InputSize).Select(_ => (float)random.Next(256)).ToArray()).ToArray();
            const int TrainingSamples = 2_000;
            var images = Enumerable.Range(0, TrainingSamples * spec.InputSize).Select(_ => (float)random.Next(256)).ToArray();
            var labels = Enumerable.Range(0, TrainingSamples).Select(_ => random.Next(spec.ClassCount)).ToArray();

            using var runtime = new ModelRuntime(options, NullLogger<ModelRuntime>.Instance);
            runtime.Activate("bench-1", spec, InferenceModelBuilder.Build(spec, parameters));
            using var runner = new TrainingJobRunner(options, NullLogger<TrainingJobRunner>.Instance);
            await runner.StartAsync(CancellationToken.None);
            var probabilities = new float[spec.ClassCount];
            var perPhase = calls / phases;
            var idle = new List<double>();
            var training = new List<double>();
            for (var phase = 0; phase < phases * 2; phase++)
            {
                var withJob = phase % 2 == 1;
                using var stop = new CancellationTokenSource();
                Task<TrainingJobResult>? job = null;
                if (withJob)
                {
                    job = runner.RunAsync(new TrainingJobRequest(spec, parameters, images, labels, TrainingSamples) { Epochs = 1_000 }, stop.Token);
                    await Task.Delay(1_000); // the job's session is built and its steps are running
                }

                Report.Progress($"{name}: phase {phase + 1}/{phases * 2} ({(withJob ? "training" : "idle")})");
                for (var i = 0; i < perPhase; i++)
                {
                    var start = Stopwatch.GetTimestamp();
                    runtime.Predict(samples[i % samples.Length], probabilities);
                    (withJob ? training : idle).Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
                }

                if (job is not null)
                {
                    Assert(!job.IsCompleted, "the training job ended before the phase did");
                    await stop.CancelAsync();
                    try
                    {
                        await job;
                    }
                    catch (OperationCanceledException)
                    {
                        // Stopped as intended.
                    }
                }
            }

            await runner.StopAsync(CancellationToken.None);
            var (idle50, idle99) = Percentiles(CollectionsMarshalSpan(idle));
            var (train50, train99) = Percentiles(CollectionsMarshalSpan(training));
            rows.Add(LatencyRow(spec.Name, idle50, train50, idle99, train99));
        }

        Report.Table(["model", "no job p50 µs", "during training p50 µs", "change p50", "no job p99 µs", "during training p99 µs", "change p99"], rows);
    }

    private static Span<double> CollectionsMarshalSpan(List<double> values) => System.Runtime.InteropServices.CollectionsMarshal.AsSpan(values);

    private static void Assert(bool condition, string message)
    {
        if (!condition)
        {
            throw new InvalidOperationException(message);
        }
    }

    /// <summary>A table row: the baseline's and the candidate's p50 and p99, each pair with the candidate's change.</summary>
    private static IReadOnlyList<string> LatencyRow(string model, double baseline50, double candidate50, double baseline99, double candidate99) =>
    [
        model,
        Report.Number(baseline50, "0.0"),
        Report.Number(candidate50, "0.0"),
        $"{Report.Number(((candidate50 / baseline50) - 1) * 100, "+0.0;-0.0")} %",
        Report.Number(baseline99, "0.0"),
        Report.Number(candidate99, "0.0"),
        $"{Report.Number(((candidate99 / baseline99) - 1) * 100, "+0.0;-0.0")} %",
    ];

    private static (double P50, double P99) Percentiles(Span<double> values)
    {
        values.Sort();
        return (values[(int)(values.Length * 0.50)], values[Math.Min(values.Length - 1, (int)(values.Length * 0.99))]);
    }

    /// <summary>The baseline: one session, the runtime's session options, preallocated OrtValues.</summary>
    private sealed class BareSession : IDisposable
    {
        private readonly SessionOptions _options;
        private readonly InferenceSession _session;
        private readonly RunOptions _runOptions = new();
        private readonly float[] _input;
        private readonly OrtValue[] _inputs;
        private readonly OrtValue[] _outputs;
        private readonly string[] _inputNames = [InferenceModelBuilder.InputName];
        private readonly string[] _outputNames = [InferenceModelBuilder.OutputName];

        public BareSession(byte[] model, ModelSpec spec, int threads)
        {
            // The same settings as LoadedModel.Load.
            _options = new SessionOptions
            {
                IntraOpNumThreads = threads,
                InterOpNumThreads = 1,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            };
            _session = new InferenceSession(model, _options);
            _input = new float[spec.InputSize];
            _inputs = [OrtValue.CreateTensorValueFromMemory(_input, [1, .. spec.Input.Shape.Select(d => (long)d)])];
            _outputs = [OrtValue.CreateTensorValueFromMemory(new float[spec.ClassCount], [1, spec.ClassCount])];
        }

        public void Run(float[] sample)
        {
            sample.CopyTo(_input, 0);
            _session.Run(_runOptions, _inputNames, _inputs, _outputNames, _outputs);
        }

        public void Dispose()
        {
            _inputs[0].Dispose();
            _outputs[0].Dispose();
            _runOptions.Dispose();
            _session.Dispose();
            _options.Dispose();
        }
    }
}
