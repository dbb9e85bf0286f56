using System.Buffers.Binary;
using System.IO.Compression;
using Fractal.Learning.Data;

namespace Fractal.Learning.Tests.Data;

public sealed class IdxReaderTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "fractal-tests", $"idx-{Guid.NewGuid():N}");

    public IdxReaderTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void Read_ValidGzipFile_ReturnsDimensionsAndData()
    {
        var path = WriteGzip("ok.gz", Header(0x08, 2, 3), [1, 2, 3, 4, 5, 6]);

        var array = IdxReader.Read(path);

        Assert.Equal(IdxDataType.UnsignedByte, array.DataType);
        Assert.Equal([2, 3], array.Dimensions);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, array.GetBytes());
    }

    [Fact]
    public void Read_PlainBigEndianFloats_ConvertsValues()
    {
        var payload = new byte[8];
        BinaryPrimitives.WriteSingleBigEndian(payload, 1.5f);
        BinaryPrimitives.WriteSingleBigEndian(payload.AsSpan(4), -2f);
        var path = Path.Combine(_directory, "floats.idx");
        File.WriteAllBytes(path, [.. Header(0x0D, 2), .. payload]);

        var array = IdxReader.Read(path);

        Assert.Equal(IdxDataType.BigEndianFloat32, array.DataType);
        Assert.Equal([1.5f, -2f], array.ToSingles());
    }

    [Fact]
    public void Read_BadMagic_ThrowsNamingFileAndMagic()
    {
        var path = WriteGzip("badmagic.gz", [0x01, 0x00, 0x08, 0x01, 0, 0, 0, 1], [7]);

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path));

        Assert.Equal(path, ex.FileName);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("magic", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_UnknownElementType_ThrowsNamingType()
    {
        var path = WriteGzip("type.gz", Header(0x07, 1), [7]);

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path));

        Assert.Contains("element type 0x07", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_ZeroDimensionCount_ThrowsNamingCount()
    {
        var path = WriteGzip("rank.gz", [0, 0, 0x08, 0], []);

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path));

        Assert.Contains("dimension count 0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_ZeroSizedDimension_Throws()
    {
        var path = WriteGzip("zero.gz", Header(0x08, 3, 0), []);

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path));

        Assert.Contains("dimension 1 has size 0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_TruncatedHeader_ThrowsTruncated()
    {
        // Declares 3 dimensions but stops after one.
        var path = WriteGzip("header.gz", [0, 0, 0x08, 3, 0, 0, 0, 5], []);

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path));

        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
        Assert.Contains("3 dimensions", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_TruncatedData_ThrowsWithExpectedAndActualSizes()
    {
        var path = WriteGzip("data.gz", Header(0x08, 10, 10), new byte[60]);

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path));

        Assert.Contains("truncated", ex.Message, StringComparison.Ordinal);
        Assert.Contains("100 bytes", ex.Message, StringComparison.Ordinal);
        Assert.Contains("only 60", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_TruncatedGzipStream_ThrowsIdxFormatException()
    {
        var full = WriteGzip("full.gz", Header(0x08, 1000), Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray());
        var bytes = File.ReadAllBytes(full);
        var path = Path.Combine(_directory, "cut.gz");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path));

        Assert.Equal(path, ex.FileName);
    }

    [Fact]
    public void Read_TrailingBytes_ThrowsUnexpectedBytes()
    {
        var path = WriteGzip("trailing.gz", Header(0x08, 2), [1, 2, 3]);

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path));

        Assert.Contains("unexpected bytes after", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_HostileDimensions_ThrowsWithoutAllocatingPayload()
    {
        // 4 billion squared squared: overflows any naive product.
        var path = WriteGzip("hostile.gz", Header(0x08, uint.MaxValue >> 1, uint.MaxValue >> 1, uint.MaxValue >> 1), [1, 2, 3]);
        var before = GC.GetAllocatedBytesForCurrentThread();

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path));

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("payload limit", ex.Message, StringComparison.Ordinal);
        Assert.True(allocated < 4 * 1024 * 1024, $"allocated {allocated} bytes");
    }

    [Fact]
    public void Read_DimensionsLargerThanFileCanHold_ThrowsWithoutAllocatingPayload()
    {
        // 10000 x 10000 = 100 MB declared (under the cap) in a file of a few dozen bytes.
        var path = WriteGzip("small.gz", Header(0x08, 10000, 10000), [1, 2, 3]);
        var before = GC.GetAllocatedBytesForCurrentThread();

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path));

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("more than a file of this size can hold", ex.Message, StringComparison.Ordinal);
        Assert.True(allocated < 4 * 1024 * 1024, $"allocated {allocated} bytes");
    }

    [Fact]
    public void Read_GarbageBytes_ThrowsIdxFormatException()
    {
        var path = Path.Combine(_directory, "garbage.gz");
        File.WriteAllBytes(path, [0x1F, 0x8B, 0x08, 0x00, 0xDE, 0xAD, 0xBE, 0xEF, 0x13, 0x37, 0x42, 0x42]);

        var ex = Assert.Throws<IdxFormatException>(() => IdxReader.Read(path));

        Assert.Equal(path, ex.FileName);
    }

    private static byte[] Header(byte type, params uint[] dims)
    {
        var header = new byte[4 + (4 * dims.Length)];
        header[2] = type;
        header[3] = (byte)dims.Length;
        for (var i = 0; i < dims.Length; i++)
        {
            BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4 + (4 * i)), dims[i]);
        }

        return header;
    }

    private string WriteGzip(string name, byte[] header, byte[] payload)
    {
        var path = Path.Combine(_directory, name);
        using (var file = File.Create(path))
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        {
            gzip.Write(header);
            gzip.Write(payload);
        }

        return path;
    }
}
