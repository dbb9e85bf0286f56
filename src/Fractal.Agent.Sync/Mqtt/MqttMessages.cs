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

    /// <summary>One of the agent's own messages, as both front ends publish it (QoS 0, see <see cref="ILocalPublisher"/>).</summary>
    public static MqttApplicationMessage Local(string topic, ReadOnlyMemory<byte> payload) =>
        new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload.ToArray())
            .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtMostOnce)
            .Build();
}
