using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Fractal.Contracts.Ingest;
using Google.Protobuf;

namespace Fractal.CloudHub.Ingest.Kafka;

/// <summary>Why a message was dead-lettered (metric tag and log field).</summary>
internal enum DeadLetterReason
{
    MissingHeader,
    BadHeader,
    BadKey,
    BadValue,
    Mismatch,
    Invalid,
    UnknownTopic,
}

/// <summary>One consumed message, classified; exactly one of the payloads is set.</summary>
internal sealed record IngestItem(TopicPartitionOffset Position)
{
    public string? NodeId { get; init; }

    public string? Stream { get; init; }

    public SensorRecord? Record { get; init; }

    public LossReport? Losses { get; init; }

    public DeadLetterReason? DeadLetter { get; init; }

    public string? Detail { get; init; }
}

/// <summary>
/// Parses and checks the wire format of the Kafka uplink (see the agent's KafkaUplinkTransport):
/// records carry headers fractal-node, fractal-stream, fractal-seq (decimal ASCII), key
/// <c>{node}/{stream}</c> and a SensorRecord value; loss reports carry key <c>{node}</c> and a
/// LossReport value. Anything else is a dead letter with a reason; nothing here throws.
/// </summary>
internal static class KafkaIngestMessages
{
    internal const string NodeHeader = "fractal-node";
    internal const string StreamHeader = "fractal-stream";
    internal const string SequenceHeader = "fractal-seq";

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static IngestItem Classify(ConsumeResult<byte[], byte[]> result, KafkaIngestOptions options, IngestOptions limits)
    {
        var position = result.TopicPartitionOffset;
        if (string.Equals(result.Topic, options.RecordsTopic, StringComparison.Ordinal))
        {
            return ClassifyRecord(position, result.Message, limits);
        }

        if (string.Equals(result.Topic, options.LossesTopic, StringComparison.Ordinal))
        {
            return ClassifyLosses(position, result.Message, limits);
        }

        return Dead(position, DeadLetterReason.UnknownTopic, $"topic '{result.Topic}' is not subscribed");
    }

    private static IngestItem ClassifyRecord(TopicPartitionOffset position, Message<byte[], byte[]> message, IngestOptions limits)
    {
        if (!TryHeader(message.Headers, NodeHeader, out var node, out var problem)
            || !TryHeader(message.Headers, StreamHeader, out var stream, out problem)
            || !TryHeader(message.Headers, SequenceHeader, out var sequenceText, out problem))
        {
            return Dead(position, problem.Reason, problem.Detail);
        }

        if (sequenceText.Length is 0 or > 20 || !sequenceText.All(char.IsAsciiDigit)
            || !ulong.TryParse(sequenceText, NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
        {
            return Dead(position, DeadLetterReason.BadHeader, $"{SequenceHeader} '{Truncate(sequenceText)}' is not a decimal sequence number");
        }

        var expectedKey = $"{node}/{stream}";
        if (message.Key is null || !TryDecode(message.Key, out var key) || !string.Equals(key, expectedKey, StringComparison.Ordinal))
        {
            return Dead(position, DeadLetterReason.BadKey, $"key does not equal '{Truncate(expectedKey)}' from the headers");
        }

        if (message.Value is null || message.Value.Length == 0)
        {
            return Dead(position, DeadLetterReason.BadValue, "value is empty; a SensorRecord is expected");
        }

        if (message.Value.Length > limits.MaxMessageBytes)
        {
            return Dead(position, DeadLetterReason.BadValue, $"value has {message.Value.Length} bytes; the limit is {limits.MaxMessageBytes} (Ingest:MaxMessageBytes)");
        }

        SensorRecord record;
        try
        {
            record = SensorRecord.Parser.ParseFrom(message.Value);
        }
        catch (InvalidProtocolBufferException ex)
        {
            return Dead(position, DeadLetterReason.BadValue, $"value is not a SensorRecord: {ex.Message}");
        }

        if (record.Sequence != sequence)
        {
            return Dead(position, DeadLetterReason.Mismatch, $"{SequenceHeader} {sequence} differs from the value's sequence {record.Sequence}");
        }

        // The rules every ingest path shares (names, sequence range, tensor shape).
        var invalid = IngestValidator.Validate(new RecordBatch { NodeId = node, Stream = stream, Records = { record } }, limits);
        if (invalid is not null)
        {
            return Dead(position, DeadLetterReason.Invalid, invalid);
        }

        return new IngestItem(position) { NodeId = node, Stream = stream, Record = record };
    }

    private static IngestItem ClassifyLosses(TopicPartitionOffset position, Message<byte[], byte[]> message, IngestOptions limits)
    {
        if (message.Value is null || message.Value.Length == 0)
        {
            return Dead(position, DeadLetterReason.BadValue, "value is empty; a LossReport is expected");
        }

        if (message.Value.Length > limits.MaxMessageBytes)
        {
            return Dead(position, DeadLetterReason.BadValue, $"value has {message.Value.Length} bytes; the limit is {limits.MaxMessageBytes} (Ingest:MaxMessageBytes)");
        }

        LossReport report;
        try
        {
            report = LossReport.Parser.ParseFrom(message.Value);
        }
        catch (InvalidProtocolBufferException ex)
        {
            return Dead(position, DeadLetterReason.BadValue, $"value is not a LossReport: {ex.Message}");
        }

        if (message.Key is null || !TryDecode(message.Key, out var key) || !string.Equals(key, report.NodeId, StringComparison.Ordinal))
        {
            return Dead(position, DeadLetterReason.BadKey, $"key does not equal the report's node_id '{Truncate(report.NodeId)}'");
        }

        var invalid = IngestValidator.Validate(report, limits);
        return invalid is null
            ? new IngestItem(position) { NodeId = report.NodeId, Losses = report }
            : Dead(position, DeadLetterReason.Invalid, invalid);
    }

    private static bool TryHeader(Headers? headers, string name, out string value, out (DeadLetterReason Reason, string Detail) problem)
    {
        value = string.Empty;
        problem = default;
        byte[]? bytes = null;
        var count = 0;
        if (headers is not null)
        {
            foreach (var header in headers)
            {
                if (string.Equals(header.Key, name, StringComparison.Ordinal))
                {
                    bytes = header.GetValueBytes();
                    count++;
                }
            }
        }

        if (count == 0 || bytes is null)
        {
            problem = (DeadLetterReason.MissingHeader, $"header {name} is missing");
            return false;
        }

        if (count > 1)
        {
            problem = (DeadLetterReason.BadHeader, $"header {name} appears {count} times");
            return false;
        }

        if (!TryDecode(bytes, out value))
        {
            problem = (DeadLetterReason.BadHeader, $"header {name} is not UTF-8");
            return false;
        }

        return true;
    }

    private static bool TryDecode(byte[] bytes, out string value)
    {
        try
        {
            value = StrictUtf8.GetString(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            value = string.Empty;
            return false;
        }
    }

    private static IngestItem Dead(TopicPartitionOffset position, DeadLetterReason reason, string detail)
        => new(position) { DeadLetter = reason, Detail = detail };

    private static string Truncate(string value) => value.Length <= 80 ? value : string.Concat(value.AsSpan(0, 80), "...");
}
