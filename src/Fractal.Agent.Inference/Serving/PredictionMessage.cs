using System.Buffers;
using System.Text.Json;
using Fractal.Agent.Inference.Models;

namespace Fractal.Agent.Inference.Serving;

/// <summary>
/// The JSON payload published on <c>fractal/predictions/{stream}</c>:
/// <c>{"model":"v3","label":7,"confidence":0.93,"probabilities":[...],"id":"frame-12","expected":7}</c>.
/// <c>id</c> repeats the reading's source id and <c>expected</c> its label, when it had them, so
/// consumers can match predictions to readings and score them.
/// </summary>
public static class PredictionMessage
{
    /// <summary>Topic prefix; the stream name follows.</summary>
    public const string TopicPrefix = "fractal/predictions/";

    /// <summary>Writes one prediction as JSON into <paramref name="output"/>.</summary>
    public static void Write(IBufferWriter<byte> output, Prediction prediction, ReadOnlySpan<float> probabilities, string? sourceId, int? expected)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("model"u8, prediction.ModelVersion);
        json.WriteNumber("label"u8, prediction.Label);
        json.WriteNumber("confidence"u8, prediction.Confidence);
        json.WriteStartArray("probabilities"u8);
        foreach (var p in probabilities)
        {
            json.WriteNumberValue(p);
        }

        json.WriteEndArray();
        if (sourceId is not null)
        {
            json.WriteString("id"u8, sourceId);
        }

        if (expected is { } label)
        {
            json.WriteNumber("expected"u8, label);
        }

        json.WriteEndObject();
    }
}
