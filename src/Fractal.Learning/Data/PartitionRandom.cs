namespace Fractal.Learning.Data;

/// <summary>Where a partitioner's random draws come from.</summary>
public enum PartitionRandomSource
{
    /// <summary>.NET's seeded <see cref="Random"/>: stable across .NET versions, our default.</summary>
    DotNet,

    /// <summary>
    /// numpy's legacy <c>RandomState(seed)</c>, as Flower's NIID-Bench baseline: the same seed
    /// gives the reference's partition, index for index.
    /// </summary>
    Numpy,
}

/// <summary>
/// The three kinds of draw the NIID-Bench partitioners make, and the one floating-point sum whose
/// rounding decides where a Dirichlet split falls.
/// </summary>
internal abstract class PartitionRandom
{
    public static PartitionRandom Create(PartitionRandomSource source, int seed) => source switch
    {
        PartitionRandomSource.DotNet => new DotNetPartitionRandom(seed),
        PartitionRandomSource.Numpy => new NumpyPartitionRandom(seed),
        _ => throw new ArgumentOutOfRangeException(nameof(source), source, "Unknown partition random source."),
    };

    /// <summary>A uniform integer in [0, count).</summary>
    public abstract int NextBelow(int count);

    public abstract void Shuffle(Span<int> values);

    /// <summary>Proportions drawn from Dir(beta, ..., beta), one per element of <paramref name="result"/>.</summary>
    public abstract void Dirichlet(double beta, Span<double> result);

    /// <summary>The sum that normalizes Dirichlet proportions: left to right unless overridden.</summary>
    public virtual double Sum(ReadOnlySpan<double> values)
    {
        var sum = 0.0;
        foreach (var value in values)
        {
            sum += value;
        }

        return sum;
    }
}

internal sealed class NumpyPartitionRandom(int seed) : PartitionRandom
{
    private readonly NumpyRandomState _state = new(seed >= 0
        ? (uint)seed
        : throw new ArgumentOutOfRangeException(nameof(seed), seed, "numpy seeds are between 0 and 2^32 - 1."));

    public override int NextBelow(int count) => _state.RandInt(0, count);

    public override void Shuffle(Span<int> values) => _state.Shuffle(values);

    public override void Dirichlet(double beta, Span<double> result) => _state.Dirichlet(beta, result);

    /// <summary>
    /// numpy's <c>ndarray.sum</c>: pairwise summation with eight accumulators. Its rounding differs
    /// from a left-to-right sum in the last bit often enough to move a split point by one sample.
    /// </summary>
    public override double Sum(ReadOnlySpan<double> values)
    {
        const int BlockSize = 128;
        if (values.Length < 8)
        {
            var sum = -0.0;
            foreach (var value in values)
            {
                sum += value;
            }

            return sum;
        }

        if (values.Length <= BlockSize)
        {
            Span<double> r = stackalloc double[8];
            values[..8].CopyTo(r);
            var i = 8;
            for (; i < values.Length - (values.Length % 8); i += 8)
            {
                for (var lane = 0; lane < 8; lane++)
                {
                    r[lane] += values[i + lane];
                }
            }

            var result = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
            for (; i < values.Length; i++)
            {
                result += values[i];
            }

            return result;
        }

        var half = values.Length / 2;
        half -= half % 8;
        return Sum(values[..half]) + Sum(values[half..]);
    }
}

internal sealed class DotNetPartitionRandom(int seed) : PartitionRandom
{
    private readonly Random _random = new(seed);

    public override int NextBelow(int count) => _random.Next(count);

    public override void Shuffle(Span<int> values) => _random.Shuffle(values);

    /// <summary>Dir(beta, ..., beta) as normalized Gamma(beta, 1) draws.</summary>
    public override void Dirichlet(double beta, Span<double> result)
    {
        var sum = 0.0;
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = SampleGamma(beta);
            sum += result[i];
        }

        if (sum <= 0)
        {
            // All draws underflowed (tiny beta): put everything on one client, the beta -> 0 limit.
            result.Clear();
            result[_random.Next(result.Length)] = 1;
            return;
        }

        for (var i = 0; i < result.Length; i++)
        {
            result[i] /= sum;
        }
    }

    /// <summary>Gamma(shape, 1) by Marsaglia and Tsang (2000), with the shape &lt; 1 boost.</summary>
    private double SampleGamma(double shape)
    {
        if (shape < 1)
        {
            var u = _random.NextDouble();
            return SampleGamma(shape + 1) * Math.Pow(u, 1 / shape);
        }

        var d = shape - (1.0 / 3);
        var c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = SampleNormal();
                v = 1 + (c * x);
            }
            while (v <= 0);

            v = v * v * v;
            var u = _random.NextDouble();
            if (u < 1 - (0.0331 * x * x * x * x) || Math.Log(u) < (0.5 * x * x) + (d * (1 - v + Math.Log(v))))
            {
                return d * v;
            }
        }
    }

    private double SampleNormal()
    {
        // Box-Muller; 1 - NextDouble() is in (0, 1], so the log is finite.
        var u1 = 1 - _random.NextDouble();
        var u2 = _random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
