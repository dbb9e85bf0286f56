using Fractal.Contracts.Ingest;
using Google.Protobuf;

namespace Fractal.Agent.Sync.Tests.S3;

internal static class S3TestData
{
    /// <summary>2026-11-27T23:59:59.900Z: a first record just before midnight UTC, the next ones after it.</summary>
    public const long LateEvening = 1_795_823_999_900;

    public static RecordBatch Batch(string node, string stream, ulong firstSequence, int count, long firstTimestamp = LateEvening)
    {
        var batch = new RecordBatch { NodeId = node, Stream = stream };
        for (var i = 0; i < count; i++)
        {
            var values = new byte[16];
            for (var v = 0; v < 4; v++)
            {
                BitConverter.TryWriteBytes(values.AsSpan(v * 4), (float)(i + (v * 0.25)));
            }

            var record = new SensorRecord
            {
                Sequence = firstSequence + (ulong)i,
                TimestampUnixMs = firstTimestamp + (i * 50),
                Values = ByteString.CopyFrom(values),
                Priority = i % 3,
            };
            record.Shape.Add(4);
            if (i % 2 == 0)
            {
                record.Label = i % 10;
            }

            batch.Records.Add(record);
        }

        return batch;
    }

    public static LossReport Losses(string node, ulong firstLedgerId, int count)
    {
        var report = new LossReport { NodeId = node };
        for (var i = 0; i < count; i++)
        {
            var entry = new LossEntry
            {
                Stream = "vibration",
                Reason = i % 2 == 0 ? "evicted" : "expired",
                LostAtUnixMs = LateEvening + i,
                LedgerId = firstLedgerId + (ulong)i,
                Bytes = 100UL * (ulong)(i + 1),
            };
            entry.Sequences.Add([(ulong)(10 * i) + 1, (ulong)(10 * i) + 2]);
            report.Entries.Add(entry);
        }

        return report;
    }
}
