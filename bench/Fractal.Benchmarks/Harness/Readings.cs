using System.Globalization;
using System.Text;
using Fractal.Agent.Sync.Buffer;
using Fractal.Agent.Sync.Ingest;

namespace Fractal.Benchmarks;

/// <summary>
/// Sensor readings as a sensor publishes them: JSON with a few float values at sensor precision,
/// a label on some, and optionally the sensor's message id (the agent's redelivery filter).
/// </summary>
internal static class Readings
{
    public const string Stream = "bench";

    public static readonly StreamCatalog Catalog = new(new Dictionary<string, StreamPolicy>(StringComparer.Ordinal) { [Stream] = new StreamPolicy() });

    /// <summary>The JSON payload of reading <paramref name="index"/> (deterministic).</summary>
    public static byte[] Json(int index, int values, string? idPrefix)
    {
        var random = new Random(index);
        var sb = new StringBuilder(16 + (values * 8));
        sb.Append("{\"values\":[");
        for (var i = 0; i < values; i++)
        {
            if (i > 0)
            {
                sb.Append(',');
            }

            // Sensor-like numbers: a slowly varying level with three decimals.
            sb.Append((20 + (i * 0.5) + (random.NextDouble() * 2)).ToString("0.000", CultureInfo.InvariantCulture));
        }

        sb.Append(']');
        if (index % 4 == 0)
        {
            sb.Append(",\"label\":").Append((index % 10).ToString(CultureInfo.InvariantCulture));
        }

        if (idPrefix is not null)
        {
            sb.Append(",\"id\":\"").Append(idPrefix).Append(index.ToString(CultureInfo.InvariantCulture)).Append('"');
        }

        sb.Append('}');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>The append request the agent makes of <see cref="Json"/>, through the agent's own decoder.</summary>
    public static AppendRequest Request(int index, int values, string? idPrefix)
    {
        var message = new IngestMessage(IngestMessage.TopicPrefix + Stream, Json(index, values, idPrefix));
        if (!PayloadDecoder.TryDecode(message, Catalog, out var request, out var reason))
        {
            throw new InvalidOperationException($"The benchmark's own reading was rejected: {reason}");
        }

        return request!;
    }
}
