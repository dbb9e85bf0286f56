namespace Fractal.Agent.Sync.Mqtt;

/// <summary>
/// Publishes the agent's own messages (predictions) to local MQTT consumers, through whichever
/// front end ingests the sensors: the embedded server routes them to its subscribers, the broker
/// subscription publishes them to the broker.
/// </summary>
/// <remarks>
/// At most once (QoS 0), not buffered: what is published is derived from committed data and can
/// be computed again, and a consumer acting on predictions wants fresh ones, not a backlog.
/// </remarks>
public interface ILocalPublisher
{
    /// <summary>Publishes one message, or returns false at once if there is no connection to publish on.</summary>
    ValueTask<bool> TryPublishAsync(string topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken);
}
