using System.Buffers.Binary;

namespace Fractal.Agent.Sync.Buffer;

/// <summary>A reading as stored inside a segment.</summary>
internal readonly record struct SegmentRecord(ulong Sequence, long TimestampUnixMs, int[] Shape, ReadOnlyMemory<byte> Values, int? Label)
{
    /// <summary>Bytes the record counts against the quota; the same figure as <see cref="BufferedRecord.QuotaBytes"/>.</summary>
    public long QuotaBytes => BufferAccounting.QuotaBytes(Values.Length, Shape.Length);

    public BufferedRecord ToBufferedRecord(int priority) => new(Sequence, TimestampUnixMs, Shape, Values.ToArray(), Label, priority);
}

/// <summary>
/// The binary form of a segment: the readings of one stream written by one group commit, in
/// sequence order, stored as one LiteDB document (docs/design/0002-durable-buffer.md, "Segments").
/// </summary>
/// <remarks>
/// Each record is little-endian: sequence (u64), timestamp (i64), has-label (u8), label (i32),
/// rank (u8), rank dimensions (i32 each), value length (i32), values. The file is ours, but it
/// lives on a disk that can be damaged, so decoding checks every length and names what is wrong.
/// </remarks>
internal static class SegmentCodec
{
    private const int FixedHeaderBytes = 8 + 8 + 1 + 4 + 1 + 4;

    /// <summary>Tensor rank is at most this; shapes come from validated sensor messages.</summary>
    private const int MaxRank = byte.MaxValue;

    public static int EncodedSize(int rank, int valueBytes) => FixedHeaderBytes + (rank * 4) + valueBytes;

    public static byte[] Encode(IReadOnlyList<SegmentRecord> records)
    {
        var size = 0;
        foreach (var r in records)
        {
            size += EncodedSize(r.Shape.Length, r.Values.Length);
        }

        var buffer = new byte[size];
        var span = buffer.AsSpan();
        foreach (var r in records)
        {
            if (r.Shape.Length > MaxRank)
            {
                throw new ArgumentException($"A tensor of rank {r.Shape.Length} cannot be buffered (at most {MaxRank}).", nameof(records));
            }

            BinaryPrimitives.WriteUInt64LittleEndian(span, r.Sequence);
            BinaryPrimitives.WriteInt64LittleEndian(span[8..], r.TimestampUnixMs);
            span[16] = r.Label.HasValue ? (byte)1 : (byte)0;
            BinaryPrimitives.WriteInt32LittleEndian(span[17..], r.Label ?? 0);
            span[21] = (byte)r.Shape.Length;
            var at = 22;
            foreach (var dimension in r.Shape)
            {
                BinaryPrimitives.WriteInt32LittleEndian(span[at..], dimension);
                at += 4;
            }

            BinaryPrimitives.WriteInt32LittleEndian(span[at..], r.Values.Length);
            at += 4;
            r.Values.Span.CopyTo(span[at..]);
            span = span[(at + r.Values.Length)..];
        }

        return buffer;
    }

    /// <summary>Decodes every record of a segment; the values are slices of <paramref name="data"/>, not copies.</summary>
    /// <exception cref="InvalidDataException">The segment is truncated or its lengths do not add up.</exception>
    public static List<SegmentRecord> Decode(byte[] data, string where)
    {
        var records = new List<SegmentRecord>();
        var at = 0;
        while (at < data.Length)
        {
            var span = data.AsSpan(at);
            if (span.Length < FixedHeaderBytes)
            {
                throw Damaged(where, at, "the record header is cut short");
            }

            var sequence = BinaryPrimitives.ReadUInt64LittleEndian(span);
            var timestamp = BinaryPrimitives.ReadInt64LittleEndian(span[8..]);
            int? label = span[16] switch
            {
                0 => null,
                1 => BinaryPrimitives.ReadInt32LittleEndian(span[17..]),
                var flag => throw Damaged(where, at, $"the label flag is {flag}"),
            };
            var rank = span[21];
            var headerBytes = 22 + (rank * 4) + 4;
            if (span.Length < headerBytes)
            {
                throw Damaged(where, at, "the shape is cut short");
            }

            var shape = new int[rank];
            for (var d = 0; d < rank; d++)
            {
                shape[d] = BinaryPrimitives.ReadInt32LittleEndian(span[(22 + (d * 4))..]);
            }

            var length = BinaryPrimitives.ReadInt32LittleEndian(span[(headerBytes - 4)..]);
            if (length < 0 || length > span.Length - headerBytes)
            {
                throw Damaged(where, at, $"its {length} value bytes run past the segment's end");
            }

            records.Add(new SegmentRecord(sequence, timestamp, shape, data.AsMemory(at + headerBytes, length), label));
            at += headerBytes + length;
        }

        return records;
    }

    private static InvalidDataException Damaged(string where, int offset, string what)
        => new($"Buffer segment {where} is damaged at byte {offset}: {what}.");
}

/// <summary>The readings of one stream appended in the open group, not yet written as a segment.</summary>
internal sealed class OpenSegment
{
    public List<SegmentRecord> Records { get; } = [];

    /// <summary>Encoded size so far; a segment is written once it reaches <see cref="DurableBuffer.SegmentTargetBytes"/>.</summary>
    public int EncodedBytes { get; private set; }

    public void Add(SegmentRecord record)
    {
        Records.Add(record);
        EncodedBytes += SegmentCodec.EncodedSize(record.Shape.Length, record.Values.Length);
    }

    /// <summary>Drops the oldest <paramref name="count"/> records (evicted before they reached the disk).</summary>
    public void RemoveOldest(int count)
    {
        for (var i = 0; i < count; i++)
        {
            EncodedBytes -= SegmentCodec.EncodedSize(Records[i].Shape.Length, Records[i].Values.Length);
        }

        Records.RemoveRange(0, count);
    }

    public void Clear()
    {
        Records.Clear();
        EncodedBytes = 0;
    }
}
