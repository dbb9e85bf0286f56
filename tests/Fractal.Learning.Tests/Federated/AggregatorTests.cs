using Fractal.Learning.Federated;

namespace Fractal.Learning.Tests.Federated;

public sealed class AggregatorTests
{
    internal static readonly float[] Honest = [0.10f, -0.20f, 0.30f, 0.05f];

    public static TheoryData<string> AllAggregators => new() { "fedavg", "median", "trimmed:0.2", "clip:100" };

    [Theory]
    [MemberData(nameof(AllAggregators))]
    public void Complete_IdenticalUpdates_EqualsTheUpdate(string strategy)
    {
        var aggregator = FederatedStrategy.Parse(strategy).Aggregator;
        using var session = aggregator.Begin(Honest.Length);
        for (var i = 0; i < 5; i++)
        {
            session.Add(Honest, sampleCount: 10 + i);
        }

        var result = new float[Honest.Length];
        session.Complete(result);

        Assert.Equal(Honest, result, FloatComparer(1e-6f));
    }

    [Fact]
    public void WeightedMean_DifferentSampleCounts_WeighsBySamples()
    {
        using var session = new WeightedMeanAggregator().Begin(2);
        session.Add([1f, 10f], sampleCount: 1);
        session.Add([4f, 20f], sampleCount: 3);

        var result = new float[2];
        session.Complete(result);

        // (1 x 1 + 3 x 4) / 4 and (1 x 10 + 3 x 20) / 4
        Assert.Equal([3.25f, 17.5f], result);
        Assert.Equal(4, session.SampleCount);
    }

    [Theory]
    [InlineData("median")]
    [InlineData("trimmed:0.2")]
    public void Complete_OneScaledMaliciousUpdate_RobustAggregatorStaysInHonestRange(string strategy)
    {
        var robust = Aggregate(FederatedStrategy.Parse(strategy).Aggregator, WithAttacker());

        for (var i = 0; i < Honest.Length; i++)
        {
            // The honest updates are 0.95x..1.05x of Honest.
            var low = Math.Min(Honest[i] * 0.95f, Honest[i] * 1.05f) - 1e-6f;
            var high = Math.Max(Honest[i] * 0.95f, Honest[i] * 1.05f) + 1e-6f;
            Assert.InRange(robust[i], low, high);
        }
    }

    [Fact]
    public void WeightedMean_OneScaledMaliciousUpdate_IsDraggedAway()
    {
        var mean = Aggregate(new WeightedMeanAggregator(), WithAttacker());

        // The attacker's -1000x update dominates: the sign flips on every coordinate.
        for (var i = 0; i < Honest.Length; i++)
        {
            Assert.True(Math.Sign(mean[i]) == -Math.Sign(Honest[i]), $"coordinate {i}: {mean[i]}");
            Assert.True(Math.Abs(mean[i]) > 10 * Math.Abs(Honest[i]), $"coordinate {i}: {mean[i]}");
        }
    }

    [Fact]
    public void NormClipping_LargeUpdates_AggregateNormWithinBound()
    {
        const double bound = 0.5;
        var result = Aggregate(new NormClippingAggregator(bound), WithAttacker());

        var norm = Math.Sqrt(result.Sum(v => (double)v * v));
        Assert.True(norm <= bound + 1e-6, $"norm {norm}");
    }

    [Fact]
    public void NormClipping_SmallUpdate_IsLeftUnchanged()
    {
        var result = Aggregate(new NormClippingAggregator(10), [(Honest, 5)]);

        Assert.Equal(Honest, result, FloatComparer(1e-7f));
    }

    [Fact]
    public void Median_EvenCount_AveragesMiddleValues()
    {
        var result = Aggregate(new CoordinateMedianAggregator(), [([1f], 1), ([2f], 1), ([10f], 1), ([4f], 1)]);

        Assert.Equal(3f, result[0]);
    }

    [Fact]
    public void TrimmedMean_TwentyPercentOfTen_DropsTwoFromEachEnd()
    {
        var updates = new[] { -100f, -50f, 1f, 2f, 3f, 4f, 5f, 6f, 70f, 900f }.Select(v => (new[] { v }, 1L)).ToArray();

        var result = Aggregate(new TrimmedMeanAggregator(0.2), updates);

        Assert.Equal(3.5f, result[0]);
    }

    [Fact]
    public void Median_TinyChunkBuffer_GivesSameResultAsOneChunk()
    {
        var random = new Random(42);
        var updates = Enumerable.Range(0, 7)
            .Select(_ => (Enumerable.Range(0, 1000).Select(_ => (float)random.NextDouble()).ToArray(), 1L))
            .ToArray();

        var chunked = Aggregate(new CoordinateMedianAggregator(new SpoolingOptions { ChunkBufferFloats = 10 }), updates);
        var whole = Aggregate(new CoordinateMedianAggregator(), updates);

        Assert.Equal(whole, chunked);
    }

    [Fact]
    public void Dispose_MedianSession_RemovesSpoolFile()
    {
        var directory = Path.Combine(Path.GetTempPath(), "fractal-tests", $"spool-{Guid.NewGuid():N}");
        var session = new CoordinateMedianAggregator(new SpoolingOptions { Directory = directory }).Begin(3);
        session.Add([1f, 2f, 3f], 1);
        Assert.Single(Directory.GetFiles(directory));

        session.Dispose();

        Assert.Empty(Directory.GetFiles(directory));
        Directory.Delete(directory);
    }

    [Fact]
    public void Add_NonFiniteValue_ThrowsNamingParameter()
    {
        using var session = new WeightedMeanAggregator().Begin(3);

        var ex = Assert.Throws<ArgumentException>(() => session.Add([1f, float.NaN, 0f], 1));

        Assert.Contains("parameter 1", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, session.UpdateCount);
    }

    [Fact]
    public void Add_WrongLength_Throws()
    {
        using var session = new CoordinateMedianAggregator().Begin(3);

        Assert.Throws<ArgumentException>(() => session.Add([1f, 2f], 1));
    }

    [Fact]
    public void Complete_NoUpdates_ThrowsInvalidOperation()
    {
        using var session = new WeightedMeanAggregator().Begin(3);

        Assert.Throws<InvalidOperationException>(() => session.Complete(new float[3]));
    }

    [Fact]
    public void Add_ConcurrentUploads_CountsEveryUpdate()
    {
        using var session = new WeightedMeanAggregator().Begin(Honest.Length);

        Parallel.For(0, 200, _ => session.Add(Honest, 2));
        var result = new float[Honest.Length];
        session.Complete(result);

        Assert.Equal(200, session.UpdateCount);
        Assert.Equal(Honest, result, FloatComparer(1e-6f));
    }

    [Theory]
    [MemberData(nameof(AllAggregators))]
    public void Add_ThousandUpdates_AllocatesNoMemoryPerUpdate(string strategy)
    {
        // O(model) memory whatever the number of clients: an update is folded in (or spooled to
        // disk) as it arrives, never kept in memory.
        var update = Enumerable.Range(0, 10_000).Select(i => i / 10_000f).ToArray();
        using var session = FederatedStrategy.Parse(strategy).Aggregator.Begin(update.Length);
        session.Add(update, 1);
        var before = GC.GetAllocatedBytesForCurrentThread();

        for (var i = 0; i < 1000; i++)
        {
            session.Add(update, 1);
        }

        var perUpdate = (GC.GetAllocatedBytesForCurrentThread() - before) / 1000.0;
        Assert.True(perUpdate < 64, $"{perUpdate:F0} bytes allocated per update of {update.Length * sizeof(float)} bytes");
        Assert.Equal(1001, session.UpdateCount);
    }

    private static (float[] Delta, long Samples)[] WithAttacker()
    {
        var attacker = Honest.Select(v => v * -1000f).ToArray();
        return
        [
            (Honest, 100),
            (Honest.Select(v => v * 1.05f).ToArray(), 100),
            (Honest.Select(v => v * 0.95f).ToArray(), 100),
            (Honest.Select(v => v * 1.02f).ToArray(), 100),
            (attacker, 100),
        ];
    }

    private static float[] Aggregate(IUpdateAggregator aggregator, (float[] Delta, long Samples)[] updates)
    {
        using var session = aggregator.Begin(updates[0].Delta.Length);
        foreach (var (delta, samples) in updates)
        {
            session.Add(delta, samples);
        }

        var result = new float[updates[0].Delta.Length];
        session.Complete(result);
        return result;
    }

    private static EqualityComparer<float> FloatComparer(float tolerance) =>
        EqualityComparer<float>.Create((a, b) => Math.Abs(a - b) <= tolerance, v => 0);
}
