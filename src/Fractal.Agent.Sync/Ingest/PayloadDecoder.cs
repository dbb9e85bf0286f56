using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using Fractal.Agent.Sync.Buffer;

namespace Fractal.Agent.Sync.Ingest;

/// <summary>
/// Turns an MQTT message into a buffer append or a rejection reason. Accepted forms:
/// JSON readings (<c>{"values":[...], "shape":[...], "label":3, "id":"..."}</c>,
/// <c>{"value":1.5}</c> or a bare array) and binary tensors (content type
/// <see cref="IngestMessage.TensorContentType"/> or a <c>shape</c> user property; float32
/// little-endian, or uint8 with <c>dtype=u8</c>; <c>label</c> and <c>id</c> as user properties).
/// </summary>
public static class PayloadDecoder
{
    /// <summary>Most elements in one reading, whatever the payload limit.</summary>
    public const int MaxElements = 4 * 1024 * 1024;

    private const int MaxSourceIdLength = 128;
    private const int MaxRank = 8;

    /// <summary>Decodes <paramref name="message"/>; on failure <paramref name="reason"/> says why, for the dead-letter store.</summary>
    public static bool TryDecode(IngestMessage message, StreamCatalog catalog, out AppendRequest? request, out string reason)
    {
        ArgumentNullException.ThrowIfNull(message);
        ArgumentNullException.ThrowIfNull(catalog);
        request = null;
        if (!TryGetStream(message.Topic, out var stream))
        {
            reason = $"topic '{Truncate(message.Topic)}' is not fractal/sensors/{{stream}} with a valid stream name";
            return false;
        }

        if (!catalog.TryGetPolicy(stream, out var policy))
        {
            reason = $"unknown stream '{stream}'";
            return false;
        }

        if (message.Payload.Length > policy.MaxPayloadBytes)
        {
            reason = $"payload of {message.Payload.Length} bytes exceeds the stream's limit of {policy.MaxPayloadBytes}";
            return false;
        }

        if (message.Payload.Length == 0)
        {
            reason = "empty payload";
            return false;
        }

        var binary = string.Equals(message.ContentType, IngestMessage.TensorContentType, StringComparison.OrdinalIgnoreCase) || message.Property("shape") is not null;
        var ok = binary
            ? TryDecodeTensor(message, out var shape, out var values, out var label, out var id, out reason)
            : TryDecodeJson(message.Payload.Span, out shape, out values, out label, out id, out reason);
        if (!ok)
        {
            return false;
        }

        if (policy.Shape.Length > 0 && !policy.Shape.AsSpan().SequenceEqual(shape))
        {
            reason = $"shape [{string.Join(',', shape)}] does not match the stream's shape [{string.Join(',', policy.Shape)}]";
            return false;
        }

        request = new AppendRequest(stream, shape, values, label, id);
        return true;
    }

    /// <summary>Extracts the stream from <c>fractal/sensors/{stream}</c>.</summary>
    public static bool TryGetStream(string topic, out string stream)
    {
        stream = string.Empty;
        if (topic is null || !topic.StartsWith(IngestMessage.TopicPrefix, StringComparison.Ordinal))
        {
            return false;
        }

        var name = topic.AsSpan(IngestMessage.TopicPrefix.Length);
        if (!StreamCatalog.IsValidName(name))
        {
            return false;
        }

        stream = name.ToString();
        return true;
    }

    private static bool TryDecodeTensor(IngestMessage message, out int[] shape, out byte[] values, out int? label, out string? id, out string reason)
    {
        values = [];
        label = null;
        id = null;
        if (!TryParseShape(message.Property("shape"), out shape, out reason))
        {
            return false;
        }

        if (!TryParseLabel(message.Property("label"), out label, out reason) || !TryParseId(message.Property("id"), out id, out reason))
        {
            return false;
        }

        var elements = Product(shape);
        var dtype = message.Property("dtype") ?? "f32";
        var payload = message.Payload.Span;
        switch (dtype)
        {
            case "f32":
                if (payload.Length != elements * 4L)
                {
                    reason = $"tensor of shape [{string.Join(',', shape)}] needs {elements * 4L} bytes of f32, got {payload.Length}";
                    return false;
                }

                for (var i = 0; i < elements; i++)
                {
                    if (!float.IsFinite(BinaryPrimitives.ReadSingleLittleEndian(payload[(i * 4)..])))
                    {
                        reason = $"non-finite value at index {i}";
                        return false;
                    }
                }

                values = payload.ToArray();
                return true;
            case "u8":
                if (payload.Length != elements)
                {
                    reason = $"tensor of shape [{string.Join(',', shape)}] needs {elements} bytes of u8, got {payload.Length}";
                    return false;
                }

                values = new byte[elements * 4];
                for (var i = 0; i < elements; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(values.AsSpan(i * 4), payload[i]);
                }

                return true;
            default:
                reason = $"unsupported dtype '{Truncate(dtype)}' (f32 or u8)";
                return false;
        }
    }

    [ThreadStatic]
    private static List<float>? t_numbers;

    private static bool TryDecodeJson(ReadOnlySpan<byte> payload, out int[] shape, out byte[] values, out int? label, out string? id, out string reason)
    {
        shape = [];
        values = [];
        label = null;
        id = null;
        // One list per thread, reused: a reading's values are copied out into their own array below.
        // A rare large reading's list is not kept.
        if (t_numbers is { Capacity: > 4096 })
        {
            t_numbers = null;
        }

        var numbers = t_numbers ??= new List<float>(64);
        numbers.Clear();
        int[]? declaredShape = null;
        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 4 });
            if (!reader.Read())
            {
                reason = "empty JSON";
                return false;
            }

            if (reader.TokenType == JsonTokenType.StartArray)
            {
                if (!ReadNumberArray(ref reader, numbers, out reason))
                {
                    return false;
                }
            }
            else if (reader.TokenType == JsonTokenType.StartObject)
            {
                var sawValues = false;
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    // Compared as UTF-8, without allocating the name (escaped names compare unescaped).
                    var property = PropertyOf(ref reader);
                    reader.Read();
                    switch (property)
                    {
                        case JsonProperty.Values:
                            if (reader.TokenType != JsonTokenType.StartArray)
                            {
                                reason = "'values' must be an array of numbers";
                                return false;
                            }

                            if (!ReadNumberArray(ref reader, numbers, out reason))
                            {
                                return false;
                            }

                            sawValues = true;
                            break;
                        case JsonProperty.Value:
                            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetSingle(out var single) || !float.IsFinite(single))
                            {
                                reason = "'value' must be a finite number";
                                return false;
                            }

                            numbers.Add(single);
                            sawValues = true;
                            break;
                        case JsonProperty.Shape:
                            var dims = new List<float>();
                            if (reader.TokenType != JsonTokenType.StartArray || !ReadNumberArray(ref reader, dims, out _) || dims.Count is 0 or > MaxRank || dims.Any(d => d < 1 || d > MaxElements || d != MathF.Floor(d)))
                            {
                                reason = "'shape' must be an array of 1 to 8 positive integers";
                                return false;
                            }

                            declaredShape = dims.Select(d => (int)d).ToArray();
                            break;
                        case JsonProperty.Label:
                            if (reader.TokenType == JsonTokenType.Null)
                            {
                                break;
                            }

                            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var parsedLabel) || parsedLabel < 0)
                            {
                                reason = "'label' must be a non-negative integer";
                                return false;
                            }

                            label = parsedLabel;
                            break;
                        case JsonProperty.Id:
                            if (reader.TokenType != JsonTokenType.String || !TryParseId(reader.GetString(), out id, out reason))
                            {
                                reason = $"'id' must be a string of 1-{MaxSourceIdLength} characters";
                                return false;
                            }

                            break;
                        default:
                            // Unknown fields (timestamps, units) are tolerated and not stored.
                            reader.Skip();
                            break;
                    }
                }

                if (reader.TokenType != JsonTokenType.EndObject)
                {
                    reason = "malformed JSON object";
                    return false;
                }

                if (!sawValues)
                {
                    reason = "JSON reading has neither 'values' nor 'value'";
                    return false;
                }
            }
            else
            {
                reason = "JSON reading must be an object or an array of numbers";
                return false;
            }

            if (reader.Read())
            {
                reason = "trailing data after the JSON reading";
                return false;
            }
        }
        catch (JsonException ex)
        {
            reason = $"malformed JSON: {ex.Message}";
            return false;
        }

        if (numbers.Count == 0)
        {
            reason = "reading has no values";
            return false;
        }

        shape = declaredShape ?? [numbers.Count];
        if (Product(shape) != numbers.Count)
        {
            reason = $"shape [{string.Join(',', shape)}] does not hold {numbers.Count} values";
            return false;
        }

        values = new byte[numbers.Count * 4];
        for (var i = 0; i < numbers.Count; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(values.AsSpan(i * 4), numbers[i]);
        }

        reason = string.Empty;
        return true;
    }

    private enum JsonProperty
    {
        Other,
        Values,
        Value,
        Shape,
        Label,
        Id,
    }

    private static JsonProperty PropertyOf(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("values"u8) ? JsonProperty.Values
        : reader.ValueTextEquals("value"u8) ? JsonProperty.Value
        : reader.ValueTextEquals("shape"u8) ? JsonProperty.Shape
        : reader.ValueTextEquals("label"u8) ? JsonProperty.Label
        : reader.ValueTextEquals("id"u8) ? JsonProperty.Id
        : JsonProperty.Other;

    private static bool ReadNumberArray(ref Utf8JsonReader reader, List<float> into, out string reason)
    {
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.EndArray:
                    reason = string.Empty;
                    return true;
                case JsonTokenType.Number when reader.TryGetSingle(out var value) && float.IsFinite(value):
                    if (into.Count >= MaxElements)
                    {
                        reason = $"more than {MaxElements} values";
                        return false;
                    }

                    into.Add(value);
                    break;
                default:
                    reason = "arrays must hold finite numbers only";
                    return false;
            }
        }

        reason = "unterminated array";
        return false;
    }

    private static bool TryParseShape(string? text, out int[] shape, out string reason)
    {
        shape = [];
        if (string.IsNullOrWhiteSpace(text))
        {
            reason = "binary tensor without a 'shape' user property";
            return false;
        }

        var parts = text.Split([',', 'x'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length is 0 or > MaxRank)
        {
            reason = $"shape '{Truncate(text)}' must have 1 to {MaxRank} dimensions";
            return false;
        }

        shape = new int[parts.Length];
        long product = 1;
        for (var i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out shape[i]) || shape[i] < 1)
            {
                reason = $"shape '{Truncate(text)}' must be positive integers";
                return false;
            }

            product *= shape[i];
            if (product > MaxElements)
            {
                reason = $"shape '{Truncate(text)}' has more than {MaxElements} elements";
                return false;
            }
        }

        reason = string.Empty;
        return true;
    }

    private static bool TryParseLabel(string? text, out int? label, out string reason)
    {
        label = null;
        reason = string.Empty;
        if (text is null)
        {
            return true;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            label = value;
            return true;
        }

        reason = $"label '{Truncate(text)}' must be a non-negative integer";
        return false;
    }

    private static bool TryParseId(string? text, out string? id, out string reason)
    {
        id = null;
        reason = string.Empty;
        if (text is null)
        {
            return true;
        }

        if (text.Length is 0 or > MaxSourceIdLength)
        {
            reason = $"id must be 1-{MaxSourceIdLength} characters";
            return false;
        }

        id = text;
        return true;
    }

    private static int Product(int[] shape)
    {
        long product = 1;
        foreach (var d in shape)
        {
            product *= d;
        }

        return (int)Math.Min(product, int.MaxValue);
    }

    private static string Truncate(string text) => text.Length <= 80 ? text : text[..80] + "...";
}
