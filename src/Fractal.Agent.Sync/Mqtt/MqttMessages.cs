using System.Buffers;
using Fractal.Agent.Sync.Ingest;
using MQTTnet;

namespace Fractal.Agent.Sync.Mqtt;

internal static class MqttMessages
{
    public static IngestMessage ToIngestMessage(MqttApplicationMessage message)
    {
        var properties = message.UserProperties is { Count: > 0 } list
            ? list.Select(p => new KeyValuePair<string, string>(p.Name, System.Text.Encoding.UTF8.GetString(p.ValueBuffer.Span))).ToList()
            : null;
        return new IngestMessage(message.Topic, message.Payload.ToArray(), message.ContentType, properties);
    }
}
