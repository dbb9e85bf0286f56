using System.Collections.Concurrent;
using Fractal.Agent.Inference.Models;

namespace Fractal.Agent.Inference.Tests;

public sealed class ModelRuntimeTests
{
    [Fact]
    public void Predict_NoActiveModel_ThrowsInvalidOperation()
    {
        using var runtime = TestModels.Runtime();

        Assert.Throws<InvalidOperationException>(() => TestModels.Predict(runtime));
    }

    [Fact]
    public void Activate_ValidModel_ServesItsPredictions()
    {
        using var runtime = TestModels.Runtime();

        var info = runtime.Activate("v1", TestModels.Spec(), TestModels.Onnx(favoured: 2));
        var probabilities = new float[TestModels.Classes];
        var prediction = runtime.Predict(new float[TestModels.Inputs], probabilities);

        Assert.Equal("v1", info.Version);
        Assert.Equal(new Prediction("v1", 2, probabilities[2]), prediction);
        Assert.True(probabilities[2] > 0.9f);
        Assert.Equal(1f, probabilities.Sum(), 3);
    }

    [Fact]
    public void Predict_RawBytes_GivesSameAnswerAsFloats()
    {
        using var runtime = TestModels.Runtime();
        runtime.Activate("v1", TestModels.Spec(), TestModels.Onnx(favoured: 1));

        var prediction = runtime.Predict(new byte[] { 1, 2, 3, 4 }, new float[TestModels.Classes]);

        Assert.Equal(1, prediction.Label);
    }

    [Fact]
    public void Predict_WrongSampleLength_ThrowsNamingExpectedSize()
    {
        using var runtime = TestModels.Runtime();
        runtime.Activate("v1", TestModels.Spec(), TestModels.Onnx(0));

        var ex = Assert.Throws<ArgumentException>(() => runtime.Predict(new float[7], new float[TestModels.Classes]));

        Assert.Contains($"takes {TestModels.Inputs} values", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Activate_RepeatedSwapsUnderConcurrentLoad_NoRequestFailsAndResultsSwitch()
    {
        const int Swaps = 20;
        const int Callers = 4;
        using var runtime = TestModels.Runtime();
        var spec = TestModels.Spec();
        var models = Enumerable.Range(0, TestModels.Classes).Select(k => TestModels.Onnx(k)).ToArray();
        runtime.Activate("v0", spec, models[0]);

        using var stop = new CancellationTokenSource();
        var failures = new ConcurrentQueue<Exception>();
        var mismatches = new ConcurrentQueue<Prediction>();
        var seen = new ConcurrentDictionary<string, int>();
        var served = new ProgressSignal();

        var callers = Enumerable.Range(0, Callers).Select(_ => Task.Run(() =>
        {
            var sample = new float[TestModels.Inputs];
            var probabilities = new float[TestModels.Classes];
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var p = runtime.Predict(sample, probabilities);
                    seen.AddOrUpdate(p.ModelVersion, 1, (_, n) => n + 1);
                    served.Increment();

                    // Version vN must answer N mod 3: the result comes from the version it names.
                    if (p.Label != int.Parse(p.ModelVersion.AsSpan(1), provider: null) % TestModels.Classes)
                    {
                        mismatches.Enqueue(p);
                    }
                }
                catch (Exception ex)
                {
                    failures.Enqueue(ex);
                }
            }
        })).ToArray();

        for (var i = 1; i <= Swaps; i++)
        {
            // Let the callers get requests in against the current version before swapping again.
            await served.WaitForMoreAsync(50).WaitAsync(TimeSpan.FromSeconds(30));
            runtime.Activate($"v{i}", spec, models[i % TestModels.Classes]);
            Assert.Equal($"v{i}", TestModels.Predict(runtime).ModelVersion);
        }

        await served.WaitForMoreAsync(50).WaitAsync(TimeSpan.FromSeconds(30));
        await stop.CancelAsync();
        await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Empty(failures);
        Assert.Empty(mismatches);
        Assert.True(seen.Count >= Swaps / 2, $"callers saw only {seen.Count} versions: {string.Join(", ", seen.Keys)}");
        Assert.True(seen.ContainsKey($"v{Swaps}"));
        Assert.Equal($"v{Swaps}", runtime.Active?.Version);
        Assert.Equal($"v{Swaps - 1}", runtime.Previous?.Version);
    }

    [Fact]
    public void AcquireActive_LeaseHeldAcrossSwaps_FinishesOnOldModelThenReleasesIt()
    {
        using var runtime = TestModels.Runtime();
        var spec = TestModels.Spec();
        runtime.Activate("v1", spec, TestModels.Onnx(1));
        var lease = runtime.AcquireActive();
        var leased = lease.Model;

        runtime.Activate("v2", spec, TestModels.Onnx(2));
        runtime.Activate("v3", spec, TestModels.Onnx(0)); // v1 is evicted now.

        var inFlight = lease.Predict(new float[TestModels.Inputs], new float[TestModels.Classes]);
        Assert.Equal(new Prediction("v1", 1, inFlight.Confidence), inFlight);
        Assert.False(leased.IsDisposed);
        Assert.Equal("v3", TestModels.Predict(runtime).ModelVersion);

        lease.Dispose();

        Assert.True(leased.IsDisposed);
    }

    [Fact]
    public void Rollback_AfterSwap_ServesPreviousVersionAndCanSwapBack()
    {
        using var runtime = TestModels.Runtime();
        var spec = TestModels.Spec();
        runtime.Activate("v1", spec, TestModels.Onnx(1));
        runtime.Activate("v2", spec, TestModels.Onnx(2));

        var rolledBack = runtime.Rollback();

        Assert.Equal("v1", rolledBack.Version);
        Assert.Equal(new Prediction("v1", 1, TestModels.Predict(runtime).Confidence), TestModels.Predict(runtime));
        Assert.Equal("v2", runtime.Previous?.Version);

        runtime.Rollback();

        Assert.Equal("v2", TestModels.Predict(runtime).ModelVersion);
        Assert.Equal(2, TestModels.Predict(runtime).Label);
    }

    [Fact]
    public void Rollback_NoPreviousVersion_ThrowsInvalidOperation()
    {
        using var runtime = TestModels.Runtime();
        runtime.Activate("v1", TestModels.Spec(), TestModels.Onnx(1));

        Assert.Throws<InvalidOperationException>(() => runtime.Rollback());
        Assert.Equal("v1", TestModels.Predict(runtime).ModelVersion);
    }

    public static TheoryData<string, Func<byte[]>, string> BadModels => new()
    {
        { "garbage bytes", () => "this is not an onnx model at all"u8.ToArray(), "not a loadable ONNX model" },
        { "empty file", () => [], "empty" },
        { "truncated model", () => TestModels.Onnx(0)[..40], "not a loadable ONNX model" },
        { "wrong input shape", () => TestModels.Onnx(0, inputs: 5), "'input' has shape [N, 5]" },
        { "wrong class count", () => TestModels.Onnx(0, classes: 4), "'probabilities' has shape [N, 4]" },
    };

    [Theory]
    [MemberData(nameof(BadModels))]
    public void Activate_CorruptOrIncompatibleModel_RejectsAndActiveKeepsServing(string name, Func<byte[]> model, string reason)
    {
        using var runtime = TestModels.Runtime();
        var spec = TestModels.Spec();
        runtime.Activate("v1", spec, TestModels.Onnx(1));
        runtime.Activate("v2", spec, TestModels.Onnx(2));

        var ex = Assert.Throws<ModelRejectedException>(() => runtime.Activate("bad", spec, model()));

        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
        Assert.Contains("'bad'", ex.Message, StringComparison.Ordinal);
        Assert.Equal("bad", ex.Version);
        var prediction = TestModels.Predict(runtime);
        Assert.True(prediction is { ModelVersion: "v2", Label: 2 }, $"{name}: served by {prediction}");
        Assert.Equal("v1", runtime.Previous?.Version);
    }

    /// <summary>Counts served requests; lets the test await "n more than now" without polling.</summary>
    private sealed class ProgressSignal
    {
        private readonly Lock _gate = new();
        private long _count;
        private long _target = long.MaxValue;
        private TaskCompletionSource? _reached;

        public void Increment()
        {
            lock (_gate)
            {
                if (++_count >= _target)
                {
                    _reached?.TrySetResult();
                }
            }
        }

        public Task WaitForMoreAsync(long more)
        {
            lock (_gate)
            {
                _target = _count + more;
                _reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return _reached.Task;
            }
        }
    }
}
