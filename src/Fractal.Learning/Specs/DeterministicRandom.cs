namespace Fractal.Learning.Specs;

/// <summary>
/// SplitMix64: a tiny generator whose output depends only on the seed, on every platform and
/// runtime version (System.Random's seeded sequence is an implementation detail). Only integer
/// arithmetic and exact float conversions are used, so initial weights and shuffles are bitwise
/// reproducible across x64 and ARM64.
/// </summary>
internal struct DeterministicRandom
{
    private ulong _state;

    public DeterministicRandom(long seed) => _state = unchecked((ulong)seed * 0x9E3779B97F4A7C15UL) ^ 0xD1B54A32D192ED03UL;

    public ulong NextUInt64()
    {
        unchecked
        {
            var z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    /// <summary>Uniform in [0, 1) with 24 random bits (exactly representable as float).</summary>
    public float NextFloat() => (NextUInt64() >> 40) * (1f / (1 << 24));

    /// <summary>Uniform in [0, <paramref name="maxExclusive"/>), without modulo bias.</summary>
    public int NextInt(int maxExclusive)
    {
        var bound = (ulong)maxExclusive;
        var threshold = (0UL - bound) % bound;
        while (true)
        {
            var r = NextUInt64();
            if (r >= threshold)
            {
                return (int)(r % bound);
            }
        }
    }
}
