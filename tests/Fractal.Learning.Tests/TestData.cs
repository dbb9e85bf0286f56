using Fractal.Learning.Specs;

namespace Fractal.Learning.Tests;

/// <summary>Deterministic synthetic inputs for tests.</summary>
internal static class TestData
{
    /// <summary>Uniform values in [lo, hi).</summary>
    public static float[] Uniform(int count, int seed, float lo = -1f, float hi = 1f)
    {
        var random = new Random(seed);
        var data = new float[count];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = lo + ((hi - lo) * random.NextSingle());
        }

        return data;
    }

    /// <summary>
    /// A learnable classification set: every class has a fixed random prototype image; samples are
    /// the prototype plus noise, as raw 0..255 values.
    /// </summary>
    public static (float[] Images, int[] Labels) Prototypes(ModelSpec spec, int count, int seed, float noise = 40f)
    {
        var random = new Random(seed);
        var size = spec.InputSize;
        var prototypes = new float[spec.ClassCount][];
        for (var c = 0; c < prototypes.Length; c++)
        {
            prototypes[c] = new float[size];
            for (var i = 0; i < size; i++)
            {
                prototypes[c][i] = random.NextSingle() * 255f;
            }
        }

        var images = new float[count * size];
        var labels = new int[count];
        for (var n = 0; n < count; n++)
        {
            var c = random.Next(spec.ClassCount);
            labels[n] = c;
            for (var i = 0; i < size; i++)
            {
                images[(n * size) + i] = Math.Clamp(prototypes[c][i] + ((random.NextSingle() - 0.5f) * 2f * noise), 0f, 255f);
            }
        }

        return (images, labels);
    }

    /// <summary>Random parameters with small biases so ReLUs are not all on one side.</summary>
    public static ModelParameters Parameters(ModelSpec spec, int seed)
    {
        var initialized = ModelParameters.Initialize(spec, seed);
        var random = new Random(seed + 1);
        foreach (var t in initialized.Tensors.Where(t => t.Name.EndsWith(".bias", StringComparison.Ordinal)))
        {
            for (var i = 0; i < t.Data.Length; i++)
            {
                t.Data[i] = (random.NextSingle() - 0.5f) * 0.2f;
            }
        }

        return initialized;
    }
}
