using Fractal.Learning.Specs;

namespace Fractal.Learning.Federated;

/// <summary>
/// Moves <see cref="ModelParameters"/> to and from the flat float vectors aggregation works on:
/// the tensors' values concatenated in their canonical order.
/// </summary>
public static class ParameterVectors
{
    /// <summary>All values in tensor order, as one new array.</summary>
    public static float[] Flatten(ModelParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var result = new float[checked((int)parameters.ElementCount)];
        CopyTo(parameters, result);
        return result;
    }

    /// <summary>Copies all values in tensor order into <paramref name="destination"/>.</summary>
    public static void CopyTo(ModelParameters parameters, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (destination.Length != parameters.ElementCount)
        {
            throw new ArgumentException($"Destination holds {destination.Length} values; the parameters have {parameters.ElementCount}.", nameof(destination));
        }

        var offset = 0;
        foreach (var t in parameters.Tensors)
        {
            t.Data.CopyTo(destination[offset..]);
            offset += t.Data.Length;
        }
    }

    /// <summary>New parameters with the names and shapes of <paramref name="template"/> and the given values.</summary>
    public static ModelParameters Unflatten(ReadOnlySpan<float> values, ModelParameters template)
    {
        ArgumentNullException.ThrowIfNull(template);
        if (values.Length != template.ElementCount)
        {
            throw new ArgumentException($"{values.Length} values do not fill parameters of {template.ElementCount} values.", nameof(values));
        }

        var tensors = new List<ParameterTensor>(template.Count);
        var offset = 0;
        foreach (var t in template.Tensors)
        {
            tensors.Add(new ParameterTensor(t.Name, t.Shape, values.Slice(offset, t.Data.Length).ToArray()));
            offset += t.Data.Length;
        }

        return new ModelParameters(tensors);
    }
}
