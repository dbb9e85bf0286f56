using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Fractal.Learning.Onnx;

/// <summary>
/// Small helper that appends nodes to an ONNX <see cref="GraphProto"/> with generated unique
/// value names. Every graph Fractal builds uses only the default ("ai.onnx") domain at
/// <see cref="Opset"/>.
/// </summary>
internal sealed class OnnxGraph
{
    /// <summary>The ai.onnx opset of every graph we build. 17 is the newest opset python3-onnx 1.12 (Debian) checks.</summary>
    public const int Opset = 17;

    /// <summary>IR version that goes with opset 17.</summary>
    public const long IrVersion = 8;

    public const string Producer = "Fractal.Learning";

    private readonly GraphProto _graph;
    private int _counter;

    public OnnxGraph(string name) => _graph = new GraphProto { Name = name };

    public GraphProto Graph => _graph;

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Str(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    public static AttributeProto Tensor(string name, TensorProto value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Tensor, T = value };

    public static TensorProto FloatTensor(string name, IReadOnlyList<int> shape, ReadOnlySpan<float> data)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        foreach (var d in shape)
        {
            t.Dims.Add(d);
        }

        // raw_data is little-endian by the ONNX spec; every platform .NET runs Fractal on is little-endian.
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data));
        return t;
    }

    public static ValueInfoProto Value(string name, TensorProto.Types.DataType type, IEnumerable<object> dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(d switch
            {
                string s => new TensorShapeProto.Types.Dimension { DimParam = s },
                int i => new TensorShapeProto.Types.Dimension { DimValue = i },
                long l => new TensorShapeProto.Types.Dimension { DimValue = l },
                _ => throw new ArgumentException($"Unsupported dimension {d}.", nameof(dims)),
            });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    public void AddInput(string name, TensorProto.Types.DataType type, IEnumerable<object> dims) => _graph.Input.Add(Value(name, type, dims));

    public void AddOutput(string name, TensorProto.Types.DataType type, IEnumerable<object> dims) => _graph.Output.Add(Value(name, type, dims));

    public void AddInitializer(string name, IReadOnlyList<int> shape, ReadOnlySpan<float> data) => _graph.Initializer.Add(FloatTensor(name, shape, data));

    public string Fresh(string hint) => string.Create(CultureInfo.InvariantCulture, $"{hint}_{_counter++}");

    /// <summary>Appends a node whose outputs get fresh names; returns them.</summary>
    public string[] NodeN(string op, IReadOnlyList<string> inputs, int outputCount, params AttributeProto[] attributes)
    {
        var outputs = new string[outputCount];
        for (var i = 0; i < outputCount; i++)
        {
            outputs[i] = Fresh(op);
        }

        NodeTo(op, inputs, outputs, attributes);
        return outputs;
    }

    /// <summary>Appends a node with one fresh output; returns its name.</summary>
    public string Node(string op, IReadOnlyList<string> inputs, params AttributeProto[] attributes) => NodeN(op, inputs, 1, attributes)[0];

    /// <summary>Appends a node with one input and one fresh output.</summary>
    public string Node(string op, string input, params AttributeProto[] attributes) => NodeN(op, [input], 1, attributes)[0];

    /// <summary>Appends a node writing the given output names.</summary>
    public void NodeTo(string op, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = Fresh("n_" + op) };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
    }

    public string ConstFloat(float value)
    {
        var t = new TensorProto { DataType = (int)TensorProto.Types.DataType.Float };
        t.FloatData.Add(value);
        return Node("Constant", [], Tensor("value", t));
    }

    public string ConstInt64(params long[] values)
    {
        var t = new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        return Node("Constant", [], Tensor("value", t));
    }

    public string ConstInt64Scalar(long value)
    {
        var t = new TensorProto { DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Int64Data.Add(value);
        return Node("Constant", [], Tensor("value", t));
    }

    public byte[] ToModelBytes(string docString, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = Producer,
            ProducerVersion = typeof(OnnxGraph).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0",
            Domain = "eu.fractal-project",
            ModelVersion = 1,
            DocString = docString,
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = Opset });
        foreach (var (key, value) in metadata ?? new Dictionary<string, string>())
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }

        return model.ToByteArray();
    }
}
