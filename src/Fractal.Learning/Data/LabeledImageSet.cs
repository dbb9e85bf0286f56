namespace Fractal.Learning.Data;

/// <summary>
/// Single-channel images with class labels, stored compactly as bytes (one byte per pixel), the
/// way IDX data sets ship them. Converting to floats is explicit so callers choose when to pay
/// four bytes per pixel.
/// </summary>
public sealed class LabeledImageSet
{
    private readonly byte[] _pixels;
    private readonly byte[] _labels;

    /// <summary>Wraps pixel and label buffers (not copied).</summary>
    /// <param name="pixels">count x height x width bytes, row-major.</param>
    /// <param name="labels">One class index per image.</param>
    /// <param name="height">Image height in pixels.</param>
    /// <param name="width">Image width in pixels.</param>
    /// <param name="classCount">Number of classes; every label must be below it.</param>
    public LabeledImageSet(byte[] pixels, byte[] labels, int height, int width, int classCount)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        if ((long)labels.Length * height * width != pixels.Length)
        {
            throw new ArgumentException($"{pixels.Length} pixel bytes do not hold {labels.Length} images of {height}x{width}.", nameof(pixels));
        }

        foreach (var label in labels)
        {
            if (label >= classCount)
            {
                throw new ArgumentException($"Label {label} is not below the class count {classCount}.", nameof(labels));
            }
        }

        _pixels = pixels;
        _labels = labels;
        Height = height;
        Width = width;
        ClassCount = classCount;
    }

    /// <summary>Number of images.</summary>
    public int Count => _labels.Length;

    /// <summary>Image height.</summary>
    public int Height { get; }

    /// <summary>Image width.</summary>
    public int Width { get; }

    /// <summary>Pixels per image.</summary>
    public int PixelsPerImage => Height * Width;

    /// <summary>Number of classes.</summary>
    public int ClassCount { get; }

    /// <summary>All pixels, image after image, row-major.</summary>
    public ReadOnlyMemory<byte> Pixels => _pixels;

    /// <summary>All labels.</summary>
    public ReadOnlyMemory<byte> Labels => _labels;

    /// <summary>The pixels of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> GetImage(int index) => _pixels.AsSpan(checked(index * PixelsPerImage), PixelsPerImage);

    /// <summary>The label of image <paramref name="index"/>.</summary>
    public int GetLabel(int index) => _labels[index];

    /// <summary>The images at <paramref name="indices"/>, in that order (copies).</summary>
    public LabeledImageSet Subset(IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var pixels = new byte[(long)indices.Count * PixelsPerImage];
        var labels = new byte[indices.Count];
        for (var i = 0; i < indices.Count; i++)
        {
            GetImage(indices[i]).CopyTo(pixels.AsSpan(i * PixelsPerImage));
            labels[i] = _labels[indices[i]];
        }

        return new LabeledImageSet(pixels, labels, Height, Width, ClassCount);
    }

    /// <summary>The first <paramref name="count"/> images (copies).</summary>
    public LabeledImageSet Take(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        count = Math.Min(count, Count);
        return new LabeledImageSet(
            _pixels.AsSpan(0, count * PixelsPerImage).ToArray(),
            _labels.AsSpan(0, count).ToArray(),
            Height,
            Width,
            ClassCount);
    }

    /// <summary>
    /// Raw pixel values (0..255) as floats, count x height x width: what Fractal models take, since
    /// a spec's scaling is part of its ONNX graph.
    /// </summary>
    public float[] ToRawFloats()
    {
        var result = new float[_pixels.Length];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = _pixels[i];
        }

        return result;
    }

    /// <summary>Pixels scaled to [0, 1] as floats, count x height x width (NCHW with C = 1).</summary>
    public float[] ToNormalizedFloats()
    {
        var result = new float[_pixels.Length];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = _pixels[i] / 255f;
        }

        return result;
    }

    /// <summary>Labels as 32-bit integers.</summary>
    public int[] GetLabelsAsInt32()
    {
        var result = new int[_labels.Length];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = _labels[i];
        }

        return result;
    }

    /// <summary>Number of images of each class.</summary>
    public int[] CountPerClass()
    {
        var counts = new int[ClassCount];
        foreach (var label in _labels)
        {
            counts[label]++;
        }

        return counts;
    }
}
