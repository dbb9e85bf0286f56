using Microsoft.Extensions.Logging;

namespace Fractal.Agent.Sync.Mqtt;

internal static partial class MqttLog
{
    [LoggerMessage(3001, LogLevel.Information, "Embedded MQTT server listening on {Address}:{Port}")]
    public static partial void EmbeddedStarted(ILogger logger, string address, int port);

    [LoggerMessage(3002, LogLevel.Information, "Subscribed to {Filter} at broker {Host}:{Port} (session present: {SessionPresent})")]
    public static partial void Subscribed(ILogger logger, string filter, string host, int port, bool sessionPresent);

    [LoggerMessage(3003, LogLevel.Warning, "Broker {Host}:{Port} unreachable; retrying")]
    public static partial void BrokerUnreachable(ILogger logger, string host, int port, Exception exception);

    [LoggerMessage(3004, LogLevel.Error, "Could not commit a message on {Topic}; not acknowledging it")]
    public static partial void CommitFailed(ILogger logger, string topic, Exception exception);

    [LoggerMessage(3005, LogLevel.Debug, "Acknowledgement on a closed connection dropped; the broker redelivers")]
    public static partial void AckDropped(ILogger logger, Exception exception);
}
