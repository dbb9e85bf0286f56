namespace Fractal.Learning.Specs;

/// <summary>The layer types a <see cref="ModelSpec"/> may contain.</summary>
public enum LayerKind
{
    /// <summary>Fully connected layer: y = x W^T + b, W is [units, inputs].</summary>
    Dense,

    /// <summary>2-D convolution over a [channels, height, width] activation; W is [filters, channels, k, k].</summary>
    Conv2D,

    /// <summary>2-D max pooling with a square window, no padding, floor output size.</summary>
    MaxPool2D,

    /// <summary>Rectified linear unit.</summary>
    ReLU,

    /// <summary>Flattens a [channels, height, width] activation to one dimension.</summary>
    Flatten,

    /// <summary>Inverted dropout in training; identity at inference.</summary>
    Dropout,
}

/// <summary>One layer of a <see cref="ModelSpec"/>. Shapes are per sample; the batch dimension is implicit.</summary>
public abstract record LayerSpec
{
    private protected LayerSpec()
    {
    }

    /// <summary>The layer type.</summary>
    public abstract LayerKind Kind { get; }

    /// <summary>Whether the layer has a weight and a bias tensor.</summary>
    public bool HasParameters => Kind is LayerKind.Dense or LayerKind.Conv2D;
}

/// <summary>Fully connected layer with <paramref name="Units"/> outputs; needs a rank-1 input.</summary>
public sealed record DenseLayer(int Units) : LayerSpec
{
    /// <inheritdoc />
    public override LayerKind Kind => LayerKind.Dense;
}

/// <summary>Square 2-D convolution with symmetric zero padding.</summary>
public sealed record Conv2DLayer(int Filters, int Kernel, int Stride = 1, int Padding = 0) : LayerSpec
{
    /// <inheritdoc />
    public override LayerKind Kind => LayerKind.Conv2D;
}

/// <summary>Square 2-D max pooling; <paramref name="Stride"/> defaults to the window size.</summary>
public sealed record MaxPool2DLayer(int Size, int Stride) : LayerSpec
{
    /// <inheritdoc />
    public override LayerKind Kind => LayerKind.MaxPool2D;
}

/// <summary>Rectified linear unit.</summary>
public sealed record ReLULayer : LayerSpec
{
    /// <inheritdoc />
    public override LayerKind Kind => LayerKind.ReLU;
}

/// <summary>Flatten to rank 1.</summary>
public sealed record FlattenLayer : LayerSpec
{
    /// <inheritdoc />
    public override LayerKind Kind => LayerKind.Flatten;
}

/// <summary>Inverted dropout with drop probability <paramref name="Rate"/> in [0, 1); identity at inference.</summary>
public sealed record DropoutLayer(float Rate) : LayerSpec
{
    /// <inheritdoc />
    public override LayerKind Kind => LayerKind.Dropout;
}

/// <summary>
/// The model input and its preprocessing: the graph input is [N, ..Shape]; each value becomes
/// value * Scale + Offset; then the sample is reshaped to <see cref="Reshape"/> when it is set.
/// </summary>
public sealed record InputSpec
{
    public InputSpec(IReadOnlyList<int> shape, float scale = 1f, float offset = 0f, IReadOnlyList<int>? reshape = null)
    {
        ArgumentNullException.ThrowIfNull(shape);
        Shape = [.. shape];
        Scale = scale;
        Offset = offset;
        Reshape = reshape is null ? null : [.. reshape];
    }

    /// <summary>Per-sample shape of the graph input "input" (the batch dimension is not included).</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>Multiplier applied to every input value.</summary>
    public float Scale { get; }

    /// <summary>Added to every input value after scaling.</summary>
    public float Offset { get; }

    /// <summary>Per-sample shape after preprocessing, or null to keep <see cref="Shape"/>.</summary>
    public IReadOnlyList<int>? Reshape { get; }
}

/// <summary>Whether a parameter tensor is a weight or a bias.</summary>
public enum ParameterRole
{
    /// <summary>Weight matrix or convolution kernel.</summary>
    Weight,

    /// <summary>Bias vector.</summary>
    Bias,
}

/// <summary>Name and shape of one parameter tensor that a spec implies, in canonical order.</summary>
public sealed record ParameterDescriptor(string Name, IReadOnlyList<int> Shape, int LayerIndex, ParameterRole Role)
{
    /// <summary>Number of elements.</summary>
    public int ElementCount
    {
        get
        {
            var n = 1;
            foreach (var d in Shape)
            {
                n *= d;
            }

            return n;
        }
    }
}
