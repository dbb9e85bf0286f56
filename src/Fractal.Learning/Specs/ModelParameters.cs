namespace Fractal.Learning.Specs;

/// <summary>One named float tensor of a model: shape and row-major values.</summary>
public sealed class ParameterTensor
{
    /// <summary>Creates a tensor; <paramref name="data"/> is used as is (not copied).</summary>
    /// <exception cref="ArgumentException">The shape has a non-positive dimension or does not match the data length.</exception>
    public ParameterTensor(string name, IReadOnlyList<int> shape, float[] data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        long n = 1;
        foreach (var d in shape)
        {
            if (d <= 0)
            {
                throw new ArgumentException($"Tensor '{name}' has a non-positive dimension in [{string.Join(", ", shape)}].", nameof(shape));
            }

            n *= d;
        }

        if (n != data.Length)
        {
            throw new ArgumentException($"Tensor '{name}' has shape [{string.Join(", ", shape)}] ({n} values) but {data.Length} values.", nameof(data));
        }

        Name = name;
        Shape = [.. shape];
        Data = data;
    }

    /// <summary>Parameter name, for example <c>layers.0.weight</c>.</summary>
    public string Name { get; }

    /// <summary>Dimensions, outermost first.</summary>
    public IReadOnlyList<int> Shape { get; }

    /// <summary>Row-major values. Mutable so that aggregation can work in place without copies.</summary>
#pragma warning disable CA1819 // Properties should not return arrays: the tensor is a value buffer; copying on every access would defeat O(model) aggregation.
    public float[] Data { get; }
#pragma warning restore CA1819

    /// <summary>A deep copy.</summary>
    public ParameterTensor Clone() => new(Name, Shape, (float[])Data.Clone());
}

/// <summary>
/// The parameters of a model: named float tensors in the canonical order of
/// <see cref="ModelSpec.Parameters"/> (layer order, weight before bias). Dense weights are
/// [units, inputs]; Conv2D weights are [filters, channels, kernel, kernel].
/// </summary>
public sealed class ModelParameters
{
    private readonly ParameterTensor[] _tensors;
    private readonly Dictionary<string, int> _index;

    /// <summary>Creates a set from tensors in order; names must be unique. The tensors are not copied.</summary>
    public ModelParameters(IEnumerable<ParameterTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        _tensors = [.. tensors];
        _index = new Dictionary<string, int>(_tensors.Length, StringComparer.Ordinal);
        for (var i = 0; i < _tensors.Length; i++)
        {
            var t = _tensors[i] ?? throw new ArgumentException($"Tensor {i} is null.", nameof(tensors));
            if (!_index.TryAdd(t.Name, i))
            {
                throw new ArgumentException($"Tensor name '{t.Name}' appears more than once.", nameof(tensors));
            }
        }
    }

    /// <summary>The tensors in order.</summary>
    public IReadOnlyList<ParameterTensor> Tensors => _tensors;

    /// <summary>Number of tensors.</summary>
    public int Count => _tensors.Length;

    /// <summary>Total number of values over all tensors.</summary>
    public long ElementCount => _tensors.Sum(t => (long)t.Data.Length);

    /// <summary>The tensor named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    public ParameterTensor this[string name] =>
        _index.TryGetValue(name, out var i) ? _tensors[i] : throw new KeyNotFoundException($"No parameter tensor named '{name}'.");

    /// <summary>Looks a tensor up by name.</summary>
    public bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ParameterTensor? tensor)
    {
        if (_index.TryGetValue(name, out var i))
        {
            tensor = _tensors[i];
            return true;
        }

        tensor = null;
        return false;
    }

    /// <summary>A deep copy.</summary>
    public ModelParameters Clone() => new(_tensors.Select(t => t.Clone()));

    /// <summary>
    /// Deterministic initialization; the values depend only on the spec, the seed and the scheme,
    /// bitwise, on every platform. See <see cref="ParameterInitialization"/> for the schemes.
    /// </summary>
    public static ModelParameters Initialize(ModelSpec spec, int seed, ParameterInitialization scheme = ParameterInitialization.He)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var random = new DeterministicRandom(seed);
        var tensors = new List<ParameterTensor>(spec.Parameters.Count);
        var fanIns = new Dictionary<int, double>();
        foreach (var p in spec.Parameters)
        {
            var data = new float[p.ElementCount];
            float bound;
            if (p.Role == ParameterRole.Weight)
            {
                var receptive = p.Shape.Count == 4 ? p.Shape[2] * p.Shape[3] : 1;
                var fanIn = (double)p.Shape[1] * receptive;
                var fanOut = (double)p.Shape[0] * receptive;
                fanIns[p.LayerIndex] = fanIn;
                bound = scheme switch
                {
                    ParameterInitialization.TorchDefault => (float)(1.0 / Math.Sqrt(fanIn)),
                    _ => (float)(FeedsRelu(spec, p.LayerIndex) ? Math.Sqrt(6.0 / fanIn) : Math.Sqrt(6.0 / (fanIn + fanOut))),
                };
            }
            else
            {
                // Weight before bias (canonical order), so the layer's fan-in is known here.
                bound = scheme == ParameterInitialization.TorchDefault ? (float)(1.0 / Math.Sqrt(fanIns[p.LayerIndex])) : 0f;
            }

            if (bound > 0f)
            {
                for (var i = 0; i < data.Length; i++)
                {
                    data[i] = ((2f * random.NextFloat()) - 1f) * bound;
                }
            }

            tensors.Add(new ParameterTensor(p.Name, p.Shape, data));
        }

        return new ModelParameters(tensors);
    }

    /// <summary>All-zero parameters with the shapes of <paramref name="spec"/>.</summary>
    public static ModelParameters Zeros(ModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return new ModelParameters(spec.Parameters.Select(p => new ParameterTensor(p.Name, p.Shape, new float[p.ElementCount])));
    }

    /// <summary>Checks that these tensors are exactly the ones <paramref name="spec"/> implies (names, order, shapes).</summary>
    /// <exception cref="ArgumentException">A tensor is missing, extra, or has another shape.</exception>
    public void EnsureMatches(ModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (_tensors.Length != spec.Parameters.Count)
        {
            throw new ArgumentException($"Model '{spec.Name}' has {spec.Parameters.Count} parameter tensors but {_tensors.Length} were given.");
        }

        for (var i = 0; i < _tensors.Length; i++)
        {
            var expected = spec.Parameters[i];
            var actual = _tensors[i];
            if (!string.Equals(expected.Name, actual.Name, StringComparison.Ordinal) || !expected.Shape.SequenceEqual(actual.Shape))
            {
                throw new ArgumentException($"Parameter {i} should be '{expected.Name}' [{string.Join(", ", expected.Shape)}] but is '{actual.Name}' [{string.Join(", ", actual.Shape)}].");
            }
        }
    }

    private static bool FeedsRelu(ModelSpec spec, int layerIndex)
    {
        for (var i = layerIndex + 1; i < spec.Layers.Count; i++)
        {
            switch (spec.Layers[i].Kind)
            {
                case LayerKind.ReLU:
                    return true;
                case LayerKind.Dense:
                case LayerKind.Conv2D:
                    return false;
                default:
                    continue;
            }
        }

        return false;
    }
}

/// <summary>How <see cref="ModelParameters.Initialize"/> draws initial weights and biases.</summary>
public enum ParameterInitialization
{
    /// <summary>
    /// Weights of layers whose output goes through a ReLU: He (Kaiming) uniform, bound
    /// sqrt(6 / fanIn); other weights (the logits layer): Glorot uniform, bound
    /// sqrt(6 / (fanIn + fanOut)); biases zero.
    /// </summary>
    He,

    /// <summary>
    /// What PyTorch's Linear and Conv2d do when constructed (kaiming_uniform with a = sqrt(5)):
    /// weights and biases uniform in +-1 / sqrt(fanIn). Published federated-learning results
    /// (NIID-Bench) start from it, so reproductions can too.
    /// </summary>
    TorchDefault,
}
