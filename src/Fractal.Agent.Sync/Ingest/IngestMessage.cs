namespace Fractal.Agent.Sync.Ingest;

/// <summary>A sensor message as it arrived over MQTT, before validation.</summary>
/// <param name="Topic">MQTT topic, expected <c>fractal/sensors/{stream}</c>.</param>
/// <param name="Payload">Raw payload bytes.</param>
/// <param name="ContentType">MQTT 5 content type, if any.</param>
/// <param name="UserProperties">MQTT 5 user properties (shape, dtype, label, id), if any.</param>
public sealed record IngestMessage(string Topic, ReadOnlyMemory<byte> Payload, string? ContentType = null, IReadOnlyList<KeyValuePair<string, string>>? UserProperties = null)
{
    public const string TopicPrefix = "fractal/sensors/";

    /// <summary>The subscription filter covering every sensor stream.</summary>
    public const string TopicFilter = "fractal/sensors/+";

    /// <summary>Content type of a binary tensor payload (float32 little-endian, or uint8 with dtype=u8).</summary>
    public const string TensorContentType = "application/x-fractal-tensor";

    public string? Property(string name)
    {
        if (UserProperties is null)
        {
            return null;
        }

        foreach (var pair in UserProperties)
        {
            if (string.Equals(pair.Key, name, StringComparison.Ordinal))
            {
                return pair.Value;
            }
        }

        return null;
    }
}
