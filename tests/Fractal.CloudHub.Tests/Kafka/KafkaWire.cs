using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Fractal.Contracts.Ingest;
using Google.Protobuf;

namespace Fractal.CloudHub.Tests.Kafka;

/// <summary>
/// Writes messages in the Kafka uplink's wire format (as the agent's KafkaUplinkTransport does),
/// or any hostile variation of it, with a plain Confluent producer.
/// </summary>
internal sealed class KafkaWire : IDisposable
{
    private readonly IProducer<byte[]?, byte[]?> _producer;

    public KafkaWire(string bootstrapServers)
    {
        _producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 1,
            MessageTimeoutMs = 10_000,
        }).Build();
    }

    public async Task RecordsAsync(string topic, string node, string stream, ulong first, ulong last)
    {
        for (var seq = first; seq <= last; seq++)
        {
            var record = Record(seq);
            await RawAsync(topic, $"{node}/{stream}", record.ToByteArray(), ("fractal-node", node), ("fractal-stream", stream), ("fractal-seq", seq.ToString(CultureInfo.InvariantCulture)));
        }
    }

    public Task LossesAsync(string topic, LossReport report)
        => RawAsync(topic, report.NodeId, report.ToByteArray(), ("fractal-node", report.NodeId));

    public Task RawAsync(string topic, string? key, byte[]? value, params (string Name, string Value)[] headers)
        => RawAsync(topic, key is null ? null : Encoding.UTF8.GetBytes(key), value, headers.Select(h => (h.Name, Encoding.UTF8.GetBytes(h.Value))).ToArray());

    public async Task RawAsync(string topic, byte[]? key, byte[]? value, params (string Name, byte[] Value)[] headers)
    {
        var message = new Message<byte[]?, byte[]?> { Key = key, Value = value, Headers = [] };
        foreach (var (name, bytes) in headers)
        {
            message.Headers.Add(name, bytes);
        }

        var report = await _producer.ProduceAsync(topic, message);
        if (report.Status != PersistenceStatus.Persisted)
        {
            throw new InvalidOperationException($"test message not persisted: {report.Status}");
        }
    }

    public static SensorRecord Record(ulong seq) => new()
    {
        Sequence = seq,
        TimestampUnixMs = 1_700_000_000_000 + (long)seq,
        Shape = { 2 },
        Values = ByteString.CopyFrom([.. BitConverter.GetBytes((float)seq), .. BitConverter.GetBytes(0.5f)]),
        Label = (int)(seq % 10),
        Priority = 2,
    };

    public void Dispose() => _producer.Dispose();
}
