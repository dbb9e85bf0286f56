using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Fractal.Learning.Specs;

/// <summary>
/// A classifier model described as JSON (schema version 1): input shape and preprocessing, a stack
/// of layers, and a softmax head over the logits of the final Dense layer. The spec is the single
/// source of truth from which the ONNX inference graph and the ONNX training-step graph are built.
/// Instances are immutable and always valid: construction checks every field and every shape.
/// </summary>
public sealed class ModelSpec
{
    /// <summary>The schema version this code reads and writes.</summary>
    public const int CurrentSchemaVersion = 1;

    /// <summary>Largest accepted JSON document, in characters.</summary>
    public const int MaxJsonLength = 1 << 20;

    /// <summary>Largest accepted number of layers.</summary>
    public const int MaxLayers = 256;

    /// <summary>Largest accepted size of any single dimension (units, filters, input dims).</summary>
    public const int MaxDimension = 65_536;

    /// <summary>Largest accepted kernel, pooling window, stride or padding.</summary>
    public const int MaxKernel = 64;

    /// <summary>Largest accepted number of values in one sample's activation at any layer.</summary>
    public const long MaxActivationElements = 16L << 20;

    /// <summary>Largest accepted total number of parameters (weights and biases).</summary>
    public const long MaxParameterElements = 64L << 20;

    /// <summary>The only head type of schema version 1.</summary>
    public const string SoftmaxHead = "softmax";

    private static readonly JsonDocumentOptions DocumentOptions = new()
    {
        MaxDepth = 16,
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = false,
    };

    private readonly int[][] _activationShapes;

    /// <summary>Creates and validates a spec.</summary>
    /// <exception cref="ModelSpecException">A field is out of range or the layer shapes do not fit together.</exception>
    public ModelSpec(string name, InputSpec input, IEnumerable<LayerSpec> layers, string head = SoftmaxHead)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(head);
        Name = name;
        Input = input;
        Layers = [.. layers];
        Head = head;
        (_activationShapes, Parameters) = Validate(this);
        InputSize = Product(input.Shape);
        ClassCount = _activationShapes[^1][0];
    }

    /// <summary>Schema version of this spec (always <see cref="CurrentSchemaVersion"/>).</summary>
    public int SchemaVersion { get; } = CurrentSchemaVersion;

    /// <summary>Human-readable model name (1 to 128 characters).</summary>
    public string Name { get; }

    /// <summary>Input shape and preprocessing.</summary>
    public InputSpec Input { get; }

    /// <summary>The layers in order.</summary>
    public IReadOnlyList<LayerSpec> Layers { get; }

    /// <summary>The classifier head; schema version 1 knows only <see cref="SoftmaxHead"/>.</summary>
    public string Head { get; }

    /// <summary>Number of values in one raw input sample (product of <see cref="InputSpec.Shape"/>).</summary>
    public int InputSize { get; }

    /// <summary>Number of classes (units of the final Dense layer).</summary>
    public int ClassCount { get; }

    /// <summary>The parameter tensors this spec implies, in canonical order (layer order, weight before bias).</summary>
    public IReadOnlyList<ParameterDescriptor> Parameters { get; }

    /// <summary>Total number of parameter values.</summary>
    public long ParameterElementCount => Parameters.Sum(p => (long)p.ElementCount);

    /// <summary>
    /// Per-sample activation shape before layer <paramref name="index"/> (index 0 is the preprocessed
    /// input; index <c>Layers.Count</c> is the logits).
    /// </summary>
    public IReadOnlyList<int> ActivationShape(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(index, Layers.Count);
        return _activationShapes[index];
    }

    /// <summary>Parses and validates a JSON spec.</summary>
    /// <exception cref="ModelSpecException">The JSON is malformed, has unknown or missing fields, or describes an invalid model.</exception>
    public static ModelSpec Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (json.Length > MaxJsonLength)
        {
            throw new ModelSpecException("$", $"document is {json.Length} characters; the limit is {MaxJsonLength}");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, DocumentOptions);
        }
        catch (JsonException ex)
        {
            throw new ModelSpecException("$", $"not valid JSON ({ex.Message})", ex);
        }

        using (document)
        {
            return Read(document.RootElement);
        }
    }

    /// <summary>Writes the spec as indented JSON that <see cref="Parse"/> reads back to an equal spec.</summary>
    public string ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("schemaVersion", SchemaVersion);
            w.WriteString("name", Name);
            w.WriteStartObject("input");
            WriteInts(w, "shape", Input.Shape);
            w.WriteNumber("scale", Input.Scale);
            w.WriteNumber("offset", Input.Offset);
            if (Input.Reshape is not null)
            {
                WriteInts(w, "reshape", Input.Reshape);
            }

            w.WriteEndObject();
            w.WriteStartArray("layers");
            foreach (var layer in Layers)
            {
                w.WriteStartObject();
                switch (layer)
                {
                    case DenseLayer d:
                        w.WriteString("type", "dense");
                        w.WriteNumber("units", d.Units);
                        break;
                    case Conv2DLayer c:
                        w.WriteString("type", "conv2d");
                        w.WriteNumber("filters", c.Filters);
                        w.WriteNumber("kernel", c.Kernel);
                        w.WriteNumber("stride", c.Stride);
                        w.WriteNumber("padding", c.Padding);
                        break;
                    case MaxPool2DLayer m:
                        w.WriteString("type", "maxpool2d");
                        w.WriteNumber("size", m.Size);
                        w.WriteNumber("stride", m.Stride);
                        break;
                    case ReLULayer:
                        w.WriteString("type", "relu");
                        break;
                    case FlattenLayer:
                        w.WriteString("type", "flatten");
                        break;
                    case DropoutLayer o:
                        w.WriteString("type", "dropout");
                        w.WriteNumber("rate", o.Rate);
                        break;
                    default:
                        throw new InvalidOperationException($"Unhandled layer {layer.Kind}.");
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteString("head", Head);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Layers.Count} layers, {ParameterElementCount} parameters)";

    private static void WriteInts(Utf8JsonWriter w, string name, IReadOnlyList<int> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            w.WriteNumberValue(v);
        }

        w.WriteEndArray();
    }

    private static ModelSpec Read(JsonElement root)
    {
        var o = new JsonObjectReader(root, "$");
        var version = o.RequiredInt("schemaVersion", 1, int.MaxValue);
        if (version != CurrentSchemaVersion)
        {
            throw new ModelSpecException("schemaVersion", $"version {version} is not supported; this build reads version {CurrentSchemaVersion}");
        }

        var name = o.RequiredString("name", 128);
        var inputReader = o.RequiredObject("input");
        var shape = inputReader.RequiredInts("shape", 1, 3, MaxDimension);
        var scale = inputReader.OptionalFloat("scale", 1f);
        var offset = inputReader.OptionalFloat("offset", 0f);
        var reshape = inputReader.OptionalInts("reshape", 1, 3, MaxDimension);
        inputReader.RejectUnknown("shape", "scale", "offset", "reshape");
        var input = new InputSpec(shape, scale, offset, reshape);

        var layersElement = o.Required("layers", JsonValueKind.Array);
        var count = layersElement.GetArrayLength();
        if (count is 0 or > MaxLayers)
        {
            throw new ModelSpecException("layers", $"has {count} layers; between 1 and {MaxLayers} are allowed");
        }

        var layers = new List<LayerSpec>(count);
        var index = 0;
        foreach (var element in layersElement.EnumerateArray())
        {
            layers.Add(ReadLayer(new JsonObjectReader(element, $"layers[{index}]")));
            index++;
        }

        var head = o.OptionalString("head", SoftmaxHead, 32);
        o.RejectUnknown("schemaVersion", "name", "input", "layers", "head");
        return new ModelSpec(name, input, layers, head);
    }

    private static LayerSpec ReadLayer(JsonObjectReader r)
    {
        var type = r.RequiredString("type", 32).ToUpperInvariant();
        switch (type)
        {
            case "DENSE":
                r.RejectUnknown("type", "units");
                return new DenseLayer(r.RequiredInt("units", 1, MaxDimension));
            case "CONV2D":
                r.RejectUnknown("type", "filters", "kernel", "stride", "padding");
                return new Conv2DLayer(
                    r.RequiredInt("filters", 1, MaxDimension),
                    r.RequiredInt("kernel", 1, MaxKernel),
                    r.OptionalInt("stride", 1, 1, MaxKernel),
                    r.OptionalInt("padding", 0, 0, MaxKernel));
            case "MAXPOOL2D":
                {
                    r.RejectUnknown("type", "size", "stride");
                    var size = r.RequiredInt("size", 1, MaxKernel);
                    return new MaxPool2DLayer(size, r.OptionalInt("stride", size, 1, MaxKernel));
                }

            case "RELU":
                r.RejectUnknown("type");
                return new ReLULayer();
            case "FLATTEN":
                r.RejectUnknown("type");
                return new FlattenLayer();
            case "DROPOUT":
                r.RejectUnknown("type", "rate");
                return new DropoutLayer(r.OptionalFloat("rate", 0.5f));
            default:
                throw new ModelSpecException(r.Path + ".type", $"unknown layer type '{Truncate(r.RequiredString("type", 32))}'; expected dense, conv2d, maxpool2d, relu, flatten or dropout");
        }
    }

    private static string Truncate(string s) => s.Length <= 32 ? s : s[..32] + "...";

    private static (int[][] Shapes, ParameterDescriptor[] Parameters) Validate(ModelSpec spec)
    {
        if (spec.Name.Length is 0 or > 128)
        {
            throw new ModelSpecException("name", "must have between 1 and 128 characters");
        }

        if (!string.Equals(spec.Head, SoftmaxHead, StringComparison.Ordinal))
        {
            throw new ModelSpecException("head", $"unknown head '{Truncate(spec.Head)}'; schema version 1 supports only '{SoftmaxHead}'");
        }

        var input = spec.Input;
        CheckDims("input.shape", input.Shape);
        if (!float.IsFinite(input.Scale) || input.Scale == 0f)
        {
            throw new ModelSpecException("input.scale", $"must be finite and non-zero, got {input.Scale.ToString(CultureInfo.InvariantCulture)}");
        }

        if (!float.IsFinite(input.Offset))
        {
            throw new ModelSpecException("input.offset", "must be finite");
        }

        int[] shape = [.. input.Shape];
        if (input.Reshape is not null)
        {
            CheckDims("input.reshape", input.Reshape);
            if (Product(input.Reshape) != Product(input.Shape))
            {
                throw new ModelSpecException("input.reshape", $"[{string.Join(", ", input.Reshape)}] has {Product(input.Reshape)} elements but input.shape [{string.Join(", ", input.Shape)}] has {Product(input.Shape)}");
            }

            shape = [.. input.Reshape];
        }

        if (spec.Layers.Count is 0 or > MaxLayers)
        {
            throw new ModelSpecException("layers", $"has {spec.Layers.Count} layers; between 1 and {MaxLayers} are allowed");
        }

        var shapes = new int[spec.Layers.Count + 1][];
        shapes[0] = shape;
        var parameters = new List<ParameterDescriptor>();
        long parameterCount = 0;
        for (var i = 0; i < spec.Layers.Count; i++)
        {
            var path = $"layers[{i}]";
            var layer = spec.Layers[i] ?? throw new ModelSpecException(path, "is null");
            int[] next;
            switch (layer)
            {
                case DenseLayer d:
                    Range(path + ".units", d.Units, 1, MaxDimension);
                    if (shape.Length != 1)
                    {
                        throw new ModelSpecException(path, $"dense needs a rank-1 input but gets [{string.Join(", ", shape)}]; add a flatten layer before it");
                    }

                    parameters.Add(new ParameterDescriptor($"layers.{i}.weight", [d.Units, shape[0]], i, ParameterRole.Weight));
                    parameters.Add(new ParameterDescriptor($"layers.{i}.bias", [d.Units], i, ParameterRole.Bias));
                    parameterCount += ((long)d.Units * shape[0]) + d.Units;
                    next = [d.Units];
                    break;
                case Conv2DLayer c:
                    Range(path + ".filters", c.Filters, 1, MaxDimension);
                    Range(path + ".kernel", c.Kernel, 1, MaxKernel);
                    Range(path + ".stride", c.Stride, 1, MaxKernel);
                    Range(path + ".padding", c.Padding, 0, c.Kernel - 1);
                    RequireImage(path, "conv2d", shape);
                    next = [c.Filters, WindowOutput(path, shape, 1, c.Kernel, c.Stride, c.Padding), WindowOutput(path, shape, 2, c.Kernel, c.Stride, c.Padding)];
                    parameters.Add(new ParameterDescriptor($"layers.{i}.weight", [c.Filters, shape[0], c.Kernel, c.Kernel], i, ParameterRole.Weight));
                    parameters.Add(new ParameterDescriptor($"layers.{i}.bias", [c.Filters], i, ParameterRole.Bias));
                    parameterCount += ((long)c.Filters * shape[0] * c.Kernel * c.Kernel) + c.Filters;
                    break;
                case MaxPool2DLayer m:
                    Range(path + ".size", m.Size, 1, MaxKernel);
                    Range(path + ".stride", m.Stride, 1, MaxKernel);
                    RequireImage(path, "maxpool2d", shape);
                    next = [shape[0], WindowOutput(path, shape, 1, m.Size, m.Stride, 0), WindowOutput(path, shape, 2, m.Size, m.Stride, 0)];
                    break;
                case ReLULayer:
                    next = shape;
                    break;
                case FlattenLayer:
                    next = [(int)Math.Min(int.MaxValue, ProductLong(shape))];
                    break;
                case DropoutLayer o:
                    if (!(o.Rate >= 0f && o.Rate < 1f))
                    {
                        throw new ModelSpecException(path + ".rate", $"must be in [0, 1), got {o.Rate.ToString(CultureInfo.InvariantCulture)}");
                    }

                    next = shape;
                    break;
                default:
                    throw new ModelSpecException(path, $"unsupported layer {layer.GetType().Name}");
            }

            if (ProductLong(next) > MaxActivationElements)
            {
                throw new ModelSpecException(path, $"output [{string.Join(", ", next)}] has more than {MaxActivationElements} values per sample");
            }

            if (parameterCount > MaxParameterElements)
            {
                throw new ModelSpecException(path, $"the model would have {parameterCount} parameters; the limit is {MaxParameterElements}");
            }

            shapes[i + 1] = next;
            shape = next;
        }

        if (spec.Layers[^1] is not DenseLayer last)
        {
            throw new ModelSpecException($"layers[{spec.Layers.Count - 1}]", "the softmax head needs logits: the last layer must be dense");
        }

        if (last.Units < 2)
        {
            throw new ModelSpecException($"layers[{spec.Layers.Count - 1}].units", "a classifier needs at least 2 classes");
        }

        return (shapes, [.. parameters]);
    }

    private static void RequireImage(string path, string type, int[] shape)
    {
        if (shape.Length != 3)
        {
            throw new ModelSpecException(path, $"{type} needs a [channels, height, width] input but gets [{string.Join(", ", shape)}]; set input.reshape");
        }
    }

    private static int WindowOutput(string path, int[] shape, int axis, int kernel, int stride, int padding)
    {
        var padded = shape[axis] + (2 * padding);
        if (kernel > padded)
        {
            throw new ModelSpecException(path, $"window {kernel} is larger than the padded input {padded} (input [{string.Join(", ", shape)}])");
        }

        return ((padded - kernel) / stride) + 1;
    }

    private static void CheckDims(string path, IReadOnlyList<int> dims)
    {
        if (dims.Count is 0 or > 3)
        {
            throw new ModelSpecException(path, $"must have 1 to 3 dimensions, got {dims.Count}");
        }

        for (var i = 0; i < dims.Count; i++)
        {
            Range($"{path}[{i}]", dims[i], 1, MaxDimension);
        }

        if (ProductLong(dims) > MaxActivationElements)
        {
            throw new ModelSpecException(path, $"more than {MaxActivationElements} values per sample");
        }
    }

    private static void Range(string path, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            throw new ModelSpecException(path, $"must be between {min} and {max}, got {value}");
        }
    }

    internal static int Product(IReadOnlyList<int> dims) => (int)ProductLong(dims);

    internal static long ProductLong(IReadOnlyList<int> dims)
    {
        long n = 1;
        foreach (var d in dims)
        {
            n *= d;
        }

        return n;
    }

    /// <summary>Strict reader of one JSON object: typed fields, ranges, unknown fields rejected.</summary>
    private readonly struct JsonObjectReader
    {
        private readonly JsonElement _element;

        public JsonObjectReader(JsonElement element, string path)
        {
            if (element.ValueKind != JsonValueKind.Object)
            {
                throw new ModelSpecException(path, $"must be an object, got {element.ValueKind}");
            }

            _element = element;
            Path = path;
        }

        public string Path { get; }

        private string FieldPath(string name) => Path == "$" ? name : $"{Path}.{name}";

        public JsonElement Required(string name, JsonValueKind kind)
        {
            if (!_element.TryGetProperty(name, out var value))
            {
                throw new ModelSpecException(FieldPath(name), "is required");
            }

            if (value.ValueKind != kind)
            {
                throw new ModelSpecException(FieldPath(name), $"must be {Describe(kind)}, got {value.ValueKind}");
            }

            return value;
        }

        public JsonObjectReader RequiredObject(string name) => new(Required(name, JsonValueKind.Object), FieldPath(name));

        public string RequiredString(string name, int maxLength)
        {
            var s = Required(name, JsonValueKind.String).GetString()!;
            if (s.Length == 0 || s.Length > maxLength)
            {
                throw new ModelSpecException(FieldPath(name), $"must have between 1 and {maxLength} characters");
            }

            return s;
        }

        public string OptionalString(string name, string fallback, int maxLength) =>
            _element.TryGetProperty(name, out _) ? RequiredString(name, maxLength) : fallback;

        public int RequiredInt(string name, int min, int max)
        {
            var value = Required(name, JsonValueKind.Number);
            if (!value.TryGetInt32(out var i) || i < min || i > max)
            {
                throw new ModelSpecException(FieldPath(name), $"must be an integer between {min} and {max}, got {Truncate(value.GetRawText())}");
            }

            return i;
        }

        public int OptionalInt(string name, int fallback, int min, int max) =>
            _element.TryGetProperty(name, out _) ? RequiredInt(name, min, max) : fallback;

        public float OptionalFloat(string name, float fallback)
        {
            if (!_element.TryGetProperty(name, out _))
            {
                return fallback;
            }

            var value = Required(name, JsonValueKind.Number);
            if (!value.TryGetDouble(out var d) || !double.IsFinite(d) || Math.Abs(d) > float.MaxValue)
            {
                throw new ModelSpecException(FieldPath(name), $"must be a finite number, got {Truncate(value.GetRawText())}");
            }

            return (float)d;
        }

        public int[] RequiredInts(string name, int minCount, int maxCount, int max)
        {
            var array = Required(name, JsonValueKind.Array);
            var count = array.GetArrayLength();
            if (count < minCount || count > maxCount)
            {
                throw new ModelSpecException(FieldPath(name), $"must have {minCount} to {maxCount} entries, got {count}");
            }

            var result = new int[count];
            var i = 0;
            foreach (var item in array.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out var v) || v < 1 || v > max)
                {
                    throw new ModelSpecException($"{FieldPath(name)}[{i}]", $"must be an integer between 1 and {max}, got {Truncate(item.GetRawText())}");
                }

                result[i++] = v;
            }

            return result;
        }

        public int[]? OptionalInts(string name, int minCount, int maxCount, int max) =>
            _element.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? RequiredInts(name, minCount, maxCount, max) : null;

        public void RejectUnknown(params string[] known)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in _element.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                {
                    throw new ModelSpecException(FieldPath(Truncate(property.Name)), "appears more than once");
                }

                if (Array.IndexOf(known, property.Name) < 0)
                {
                    throw new ModelSpecException(FieldPath(Truncate(property.Name)), $"unknown field; expected one of {string.Join(", ", known)}");
                }
            }
        }

        private static string Describe(JsonValueKind kind) => kind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            _ => kind.ToString(),
        };
    }
}
