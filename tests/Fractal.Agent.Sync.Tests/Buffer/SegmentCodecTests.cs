using Fractal.Agent.Sync.Buffer;

namespace Fractal.Agent.Sync.Tests.Buffer;

public sealed class SegmentCodecTests
{
    private static readonly SegmentRecord[] Records =
    [
        new(7, 1_700_000_000_000, [2, 2], new byte[16], 3),
        new(9, 1_700_000_000_005, [], Array.Empty<byte>(), null),
        new(10, 1_700_000_000_009, [1, 3, 224, 224], Enumerable.Range(0, 40).Select(i => (byte)i).ToArray(), -1),
    ];

    [Fact]
    public void Decode_OfEncode_GivesBackEveryField()
    {
        var decoded = SegmentCodec.Decode(SegmentCodec.Encode([.. Records]), "test");

        Assert.Equal(Records.Length, decoded.Count);
        for (var i = 0; i < Records.Length; i++)
        {
            Assert.Equal(Records[i].Sequence, decoded[i].Sequence);
            Assert.Equal(Records[i].TimestampUnixMs, decoded[i].TimestampUnixMs);
            Assert.Equal(Records[i].Shape, decoded[i].Shape);
            Assert.Equal(Records[i].Values.ToArray(), decoded[i].Values.ToArray());
            Assert.Equal(Records[i].Label, decoded[i].Label);
        }
    }

    [Fact]
    public void Decode_TruncatedAnywhere_FailsWithAMessageNamingTheSegment()
    {
        var encoded = SegmentCodec.Encode([.. Records]);
        var boundaries = new HashSet<int>();
        var at = 0;
        foreach (var r in Records)
        {
            at += SegmentCodec.EncodedSize(r.Shape.Length, r.Values.Length);
            boundaries.Add(at);
        }

        // Cuts that fall exactly between two records leave a shorter, valid segment.
        for (var length = 1; length < encoded.Length; length++)
        {
            var cut = encoded.AsSpan(0, length).ToArray();
            if (boundaries.Contains(length))
            {
                Assert.NotEmpty(SegmentCodec.Decode(cut, "s0/10"));
                continue;
            }

            var error = Assert.Throws<InvalidDataException>(() => SegmentCodec.Decode(cut, "s0/10"));
            Assert.Contains("s0/10", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Decode_HostileLengthsAndFlags_AreRejectedNotTrusted()
    {
        var encoded = SegmentCodec.Encode([Records[0]]);
        var badFlag = (byte[])encoded.Clone();
        badFlag[16] = 7;
        var hugeLength = (byte[])encoded.Clone();
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(hugeLength.AsSpan(22 + 8), int.MaxValue);
        var negativeLength = (byte[])encoded.Clone();
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(negativeLength.AsSpan(22 + 8), -5);
        var hugeRank = (byte[])encoded.Clone();
        hugeRank[21] = 255;

        Assert.Contains("label flag is 7", Assert.Throws<InvalidDataException>(() => SegmentCodec.Decode(badFlag, "x")).Message, StringComparison.Ordinal);
        Assert.Contains("run past", Assert.Throws<InvalidDataException>(() => SegmentCodec.Decode(hugeLength, "x")).Message, StringComparison.Ordinal);
        Assert.Contains("run past", Assert.Throws<InvalidDataException>(() => SegmentCodec.Decode(negativeLength, "x")).Message, StringComparison.Ordinal);
        Assert.Contains("shape is cut short", Assert.Throws<InvalidDataException>(() => SegmentCodec.Decode(hugeRank, "x")).Message, StringComparison.Ordinal);
    }
}
