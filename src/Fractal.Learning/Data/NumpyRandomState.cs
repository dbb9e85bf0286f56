namespace Fractal.Learning.Data;

/// <summary>
/// The random streams of numpy's legacy <c>numpy.random.RandomState(seed)</c>, draw for draw:
/// MT19937 seeded by <c>init_genrand</c>, and the legacy samplers that the NIID-Bench partitions
/// use (<c>randint</c>, <c>shuffle</c>, <c>permutation</c>, <c>dirichlet</c>).
/// </summary>
/// <remarks>
/// Flower's NIID-Bench baseline produced its published table with partitions drawn from
/// <c>RandomState(dataset_seed)</c>, so with this source a partition here holds exactly the same
/// sample indices per client as the reference run with the same seed (design 0011). The stream
/// is numpy's documented legacy one, frozen by NEP 19; tests check it against numpy itself.
/// </remarks>
internal sealed class NumpyRandomState
{
    private const int StateLength = 624;
    private const int ShiftLength = 397;
    private const uint MatrixA = 0x9908b0df;
    private const uint UpperMask = 0x80000000;
    private const uint LowerMask = 0x7fffffff;

    private readonly uint[] _key = new uint[StateLength];
    private int _position;
    private double? _spareGauss;

    public NumpyRandomState(uint seed)
    {
        // init_genrand, as numpy's mt19937_seed.
        for (var i = 0; i < StateLength; i++)
        {
            _key[i] = seed;
            seed = (1812433253u * (seed ^ (seed >> 30))) + (uint)i + 1;
        }

        _position = StateLength;
    }

    /// <summary>One tempered 32-bit output of MT19937.</summary>
    public uint NextUInt32()
    {
        if (_position == StateLength)
        {
            Regenerate();
        }

        var y = _key[_position++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >> 18;
        return y;
    }

    /// <summary><c>random_sample()</c>: a double in [0, 1) from 53 random bits.</summary>
    public double NextDouble()
    {
        var a = NextUInt32() >> 5;
        var b = NextUInt32() >> 6;
        return ((a * 67108864.0) + b) / 9007199254740992.0;
    }

    /// <summary>
    /// <c>randint(low, high)</c>: numpy's legacy bounded integer, by rejection on the smallest bit
    /// mask that covers the range.
    /// </summary>
    public int RandInt(int low, int high)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(low, high);
        var range = (uint)(high - low - 1);
        if (range == 0)
        {
            return low;
        }

        var mask = MaskCovering(range);
        uint value;
        while ((value = NextUInt32() & mask) > range)
        {
        }

        return low + (int)value;
    }

    /// <summary>
    /// <c>shuffle(x)</c> for a one-dimensional array: Fisher-Yates from the end, each swap index
    /// drawn by <c>random_interval</c>.
    /// </summary>
    public void Shuffle(Span<int> values)
    {
        for (var i = values.Length - 1; i > 0; i--)
        {
            var j = (int)RandomInterval((uint)i);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    /// <summary><c>permutation(n)</c>: a shuffled <c>arange(n)</c>.</summary>
    public int[] Permutation(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var values = new int[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = i;
        }

        Shuffle(values);
        return values;
    }

    /// <summary>
    /// <c>dirichlet([alpha] * k)</c>: k legacy standard-gamma draws, each multiplied by the
    /// reciprocal of their sum (numpy's order of operations, so the doubles match too).
    /// </summary>
    public void Dirichlet(double alpha, Span<double> result)
    {
        var sum = 0.0;
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = StandardGamma(alpha);
            sum += result[i];
        }

        var inverse = 1 / sum;
        for (var i = 0; i < result.Length; i++)
        {
            result[i] *= inverse;
        }
    }

    /// <summary>numpy's <c>legacy_standard_gamma</c>.</summary>
    public double StandardGamma(double shape)
    {
        if (shape == 1.0)
        {
            return StandardExponential();
        }

        if (shape == 0.0)
        {
            return 0.0;
        }

        if (shape < 1.0)
        {
            // Johnk-style rejection on (U, exponential), as the legacy sampler.
            while (true)
            {
                var u = NextDouble();
                var v = StandardExponential();
                if (u <= 1.0 - shape)
                {
                    var x = Math.Pow(u, 1.0 / shape);
                    if (x <= v)
                    {
                        return x;
                    }
                }
                else
                {
                    var y = -Math.Log((1 - u) / shape);
                    var x = Math.Pow(1.0 - shape + (shape * y), 1.0 / shape);
                    if (x <= v + y)
                    {
                        return x;
                    }
                }
            }
        }

        // Marsaglia and Tsang, with the legacy polar Gaussian.
        var b = shape - (1.0 / 3.0);
        var c = 1.0 / Math.Sqrt(9 * b);
        while (true)
        {
            double x, v;
            do
            {
                x = Gauss();
                v = 1.0 + (c * x);
            }
            while (v <= 0.0);

            v = v * v * v;
            var u = NextDouble();
            if (u < 1.0 - (0.0331 * (x * x) * (x * x)))
            {
                return b * v;
            }

            if (Math.Log(u) < (0.5 * x * x) + (b * (1.0 - v + Math.Log(v))))
            {
                return b * v;
            }
        }
    }

    /// <summary>numpy's <c>legacy_standard_exponential</c>: -log(1 - U).</summary>
    public double StandardExponential() => -Math.Log(1.0 - NextDouble());

    /// <summary>numpy's <c>legacy_gauss</c>: the polar method, keeping the second value for the next call.</summary>
    public double Gauss()
    {
        if (_spareGauss is { } spare)
        {
            _spareGauss = null;
            return spare;
        }

        double x1, x2, r2;
        do
        {
            x1 = (2.0 * NextDouble()) - 1.0;
            x2 = (2.0 * NextDouble()) - 1.0;
            r2 = (x1 * x1) + (x2 * x2);
        }
        while (r2 >= 1.0 || r2 == 0.0);

        var f = Math.Sqrt(-2.0 * Math.Log(r2) / r2);
        _spareGauss = f * x1;
        return f * x2;
    }

    /// <summary><c>random_interval(max)</c>: a value in [0, max] by rejection on a bit mask.</summary>
    private uint RandomInterval(uint max)
    {
        if (max == 0)
        {
            return 0;
        }

        var mask = MaskCovering(max);
        uint value;
        while ((value = NextUInt32() & mask) > max)
        {
        }

        return value;
    }

    private static uint MaskCovering(uint max)
    {
        var mask = max;
        mask |= mask >> 1;
        mask |= mask >> 2;
        mask |= mask >> 4;
        mask |= mask >> 8;
        mask |= mask >> 16;
        return mask;
    }

    private void Regenerate()
    {
        int i;
        uint y;
        for (i = 0; i < StateLength - ShiftLength; i++)
        {
            y = (_key[i] & UpperMask) | (_key[i + 1] & LowerMask);
            _key[i] = _key[i + ShiftLength] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : MatrixA);
        }

        for (; i < StateLength - 1; i++)
        {
            y = (_key[i] & UpperMask) | (_key[i + 1] & LowerMask);
            _key[i] = _key[i + ShiftLength - StateLength] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : MatrixA);
        }

        y = (_key[StateLength - 1] & UpperMask) | (_key[0] & LowerMask);
        _key[StateLength - 1] = _key[ShiftLength - 1] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : MatrixA);
        _position = 0;
    }
}
