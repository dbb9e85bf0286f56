using Confluent.Kafka;

namespace Fractal.Agent.Sync.Uplinks.Kafka;

/// <summary>
/// Kafka did not acknowledge every message of a call (timeout, broker error, fatal producer
/// state). The batch is not delivered as a whole and must be sent again; some of its records may
/// have been written, which the hub's de-duplication absorbs.
/// </summary>
public sealed class KafkaUplinkException : Exception
{
    public KafkaUplinkException()
    {
    }

    public KafkaUplinkException(string message)
        : base(message)
    {
    }

    public KafkaUplinkException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal KafkaUplinkException(string message, Error error, int failed, int total)
        : base(message, new KafkaException(error))
    {
        ErrorCode = error.Code;
        Failed = failed;
        Total = total;
    }

    /// <summary>The first error reported (for example <see cref="ErrorCode.Local_MsgTimedOut"/>).</summary>
    public ErrorCode ErrorCode { get; }

    /// <summary>How many messages of the call were not acknowledged.</summary>
    public int Failed { get; }

    /// <summary>How many messages the call produced.</summary>
    public int Total { get; }
}
