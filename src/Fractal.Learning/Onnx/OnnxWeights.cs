using System.Runtime.InteropServices;
using Fractal.Learning.Specs;
using Google.Protobuf;
using Onnx;

namespace Fractal.Learning.Onnx;

/// <summary>Reads the parameter tensors of a spec back out of an ONNX model's initializers.</summary>
public static class OnnxWeights
{
    /// <summary>
    /// Returns the initializers named in <see cref="ModelSpec.Parameters"/>, in canonical order.
    /// Extra initializers are ignored.
    /// </summary>
    /// <exception cref="OnnxModelException">The bytes are not an ONNX model, or a tensor is missing, has another shape or type, or holds a truncated or non-finite payload.</exception>
    public static ModelParameters Read(byte[] onnxModel, ModelSpec spec)
    {
        ArgumentNullException.ThrowIfNull(onnxModel);
        ArgumentNullException.ThrowIfNull(spec);
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(onnxModel);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new OnnxModelException($"The {onnxModel.Length}-byte input is not a valid ONNX model: {ex.Message}", ex);
        }

        if (model.Graph is null || model.IrVersion <= 0)
        {
            throw new OnnxModelException($"The {onnxModel.Length}-byte input is not an ONNX model: it has no graph or no IR version.");
        }

        var byName = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var init in model.Graph.Initializer)
        {
            byName.TryAdd(init.Name, init);
        }

        var tensors = new List<ParameterTensor>(spec.Parameters.Count);
        foreach (var p in spec.Parameters)
        {
            if (!byName.TryGetValue(p.Name, out var t))
            {
                throw new OnnxModelException($"The ONNX model has no initializer '{p.Name}' that model '{spec.Name}' needs.");
            }

            tensors.Add(new ParameterTensor(p.Name, p.Shape, ReadFloats(t, p)));
        }

        return new ModelParameters(tensors);
    }

    /// <summary>
    /// The spec embedded by <see cref="InferenceModelBuilder"/> under
    /// <see cref="InferenceModelBuilder.SpecMetadataKey"/>, or null when the model has none.
    /// </summary>
    /// <exception cref="OnnxModelException">The bytes are not an ONNX model.</exception>
    /// <exception cref="ModelSpecException">The embedded spec is invalid.</exception>
    public static ModelSpec? ReadSpec(byte[] onnxModel)
    {
        ArgumentNullException.ThrowIfNull(onnxModel);
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(onnxModel);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new OnnxModelException($"The {onnxModel.Length}-byte input is not a valid ONNX model: {ex.Message}", ex);
        }

        var entry = model.MetadataProps.FirstOrDefault(p => p.Key == InferenceModelBuilder.SpecMetadataKey);
        return entry is null ? null : ModelSpec.Parse(entry.Value);
    }

    private static float[] ReadFloats(TensorProto t, ParameterDescriptor p)
    {
        if (t.DataType != (int)TensorProto.Types.DataType.Float)
        {
            throw new OnnxModelException($"Initializer '{p.Name}' has data type {(TensorProto.Types.DataType)t.DataType}; FLOAT is expected.");
        }

        if (t.DataLocation == TensorProto.Types.DataLocation.External)
        {
            throw new OnnxModelException($"Initializer '{p.Name}' uses external data, which is not supported.");
        }

        if (!t.Dims.Select(d => d).SequenceEqual(p.Shape.Select(d => (long)d)))
        {
            throw new OnnxModelException($"Initializer '{p.Name}' has shape [{string.Join(", ", t.Dims)}]; [{string.Join(", ", p.Shape)}] is expected.");
        }

        var data = new float[p.ElementCount];
        if (t.HasRawData)
        {
            var raw = t.RawData.Span;
            if (raw.Length != data.Length * sizeof(float))
            {
                throw new OnnxModelException($"Initializer '{p.Name}' has {raw.Length} bytes of raw data; {data.Length * sizeof(float)} are expected.");
            }

            MemoryMarshal.Cast<byte, float>(raw).CopyTo(data);
        }
        else if (t.FloatData.Count == data.Length)
        {
            t.FloatData.CopyTo(data, 0);
        }
        else
        {
            throw new OnnxModelException($"Initializer '{p.Name}' has {t.FloatData.Count} values; {data.Length} are expected.");
        }

        for (var i = 0; i < data.Length; i++)
        {
            if (!float.IsFinite(data[i]))
            {
                throw new OnnxModelException($"Initializer '{p.Name}' holds a non-finite value at index {i}.");
            }
        }

        return data;
    }
}
