using System.Buffers.Binary;
using System.IO.Compression;

namespace Fractal.Learning.Data;

/// <summary>
/// Reads IDX files (the MNIST / Fashion-MNIST container), gzip-compressed or plain.
/// </summary>
/// <remarks>
/// Layout: two zero bytes, a type byte, a dimension count, one big-endian uint32 per dimension,
/// then the elements. Hostile headers are caught before anything is allocated: the declared
/// payload must fit <see cref="MaxPayloadBytes"/>, and for a file of known length it must be
/// reachable at all (deflate expands at most 1032:1, so a 1 KiB file cannot hold 100 MB). The
/// buffer is then filled from the stream; a short read is reported as truncation, and bytes after
/// the declared payload are reported as trailing garbage.
/// </remarks>
public static class IdxReader
{
    /// <summary>Upper bound on a payload the reader will allocate: 256 MiB (Fashion-MNIST's training images are 47 MB).</summary>
    public const long MaxPayloadBytes = 256L * 1024 * 1024;

    /// <summary>The most dimensions an IDX header may declare here (images use 3).</summary>
    public const int MaxDimensions = 8;

    // Deflate's theoretical maximum compression ratio is about 1032:1; gzip adds at least 18 bytes.
    internal const long MaxDeflateRatio = 1032;

    /// <summary>Reads the IDX file at <paramref name="path"/>; gzip is detected from its magic bytes.</summary>
    /// <exception cref="IdxFormatException">The file is malformed, truncated, or declares an oversized payload.</exception>
    public static IdxArray Read(string path, long maxPayloadBytes = MaxPayloadBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(file, path, maxPayloadBytes);
    }

    /// <summary>Reads an IDX tensor from <paramref name="stream"/>, naming it <paramref name="name"/> in errors.</summary>
    /// <exception cref="IdxFormatException">The data is malformed, truncated, or declares an oversized payload.</exception>
    public static IdxArray Read(Stream stream, string name, long maxPayloadBytes = MaxPayloadBytes)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPayloadBytes);

        long? compressedLength = stream.CanSeek ? stream.Length - stream.Position : null;
        Span<byte> probe = stackalloc byte[2];
        var probed = ReadFully(stream, probe, name, "gzip/IDX magic");
        var gzip = probed == 2 && probe[0] == 0x1F && probe[1] == 0x8B;

        // Re-attach the probed bytes in front of the rest of the stream.
        Stream source = new PrefixedStream(probe[..probed].ToArray(), stream);
        if (gzip)
        {
            source = new GZipStream(source, CompressionMode.Decompress, leaveOpen: true);
        }

        try
        {
            var reachable = gzip && compressedLength is { } c ? c * MaxDeflateRatio : compressedLength;
            return ReadIdx(source, name, maxPayloadBytes, reachable);
        }
        catch (InvalidDataException ex)
        {
            // GZipStream reports corrupt deflate data this way.
            throw new IdxFormatException(name, $"corrupt gzip data ({ex.Message})", ex);
        }
        finally
        {
            if (gzip)
            {
                source.Dispose();
            }
        }
    }

    private static IdxArray ReadIdx(Stream source, string name, long maxPayloadBytes, long? reachableBytes)
    {
        Span<byte> magic = stackalloc byte[4];
        var got = ReadFully(source, magic, name, "magic number");
        if (got < 4)
        {
            throw new IdxFormatException(name, $"truncated: the 4-byte magic number is incomplete ({got} bytes)");
        }

        if (magic[0] != 0 || magic[1] != 0)
        {
            throw new IdxFormatException(name, $"bad magic number 0x{magic[0]:X2}{magic[1]:X2}{magic[2]:X2}{magic[3]:X2}: an IDX file starts with two zero bytes");
        }

        var type = (IdxDataType)magic[2];
        if (!Enum.IsDefined(type))
        {
            throw new IdxFormatException(name, $"unknown element type 0x{magic[2]:X2} (expected 0x08, 0x09, 0x0B, 0x0C, 0x0D or 0x0E)");
        }

        int rank = magic[3];
        if (rank is 0 or > MaxDimensions)
        {
            throw new IdxFormatException(name, $"dimension count {rank} is outside 1..{MaxDimensions}");
        }

        Span<byte> header = stackalloc byte[4 * MaxDimensions];
        header = header[..(4 * rank)];
        got = ReadFully(source, header, name, "dimensions");
        if (got < header.Length)
        {
            throw new IdxFormatException(name, $"truncated: header declares {rank} dimensions but only {got} of {header.Length} dimension bytes are present");
        }

        var dims = new int[rank];
        long payload = IdxArray.ElementSize(type);
        for (var i = 0; i < rank; i++)
        {
            var d = BinaryPrimitives.ReadUInt32BigEndian(header.Slice(i * 4));
            if (d == 0 || d > int.MaxValue)
            {
                throw new IdxFormatException(name, $"dimension {i} has size {d}; sizes must be 1..{int.MaxValue}");
            }

            dims[i] = (int)d;

            // Checked against the cap after every factor, so the product can never overflow a long.
            payload *= d;
            if (payload > maxPayloadBytes)
            {
                throw new IdxFormatException(name, $"dimensions [{string.Join(", ", ReadDims(header))}] declare more than the {maxPayloadBytes}-byte payload limit; refusing to allocate");
            }
        }

        if (reachableBytes is { } reachable && payload > reachable)
        {
            throw new IdxFormatException(name, $"dimensions [{string.Join(", ", dims)}] declare {payload} bytes of data, more than a file of this size can hold; the header is corrupt or the file is truncated");
        }

        var data = GC.AllocateUninitializedArray<byte>((int)payload);
        var read = ReadFully(source, data, name, "data");
        if (read < data.Length)
        {
            throw new IdxFormatException(name, $"truncated: dimensions [{string.Join(", ", dims)}] declare {data.Length} bytes of data but only {read} are present");
        }

        Span<byte> extra = stackalloc byte[1];
        if (ReadFully(source, extra, name, "end of data") != 0)
        {
            throw new IdxFormatException(name, $"unexpected bytes after the {data.Length}-byte payload declared by dimensions [{string.Join(", ", dims)}]");
        }

        return new IdxArray(type, dims, data);
    }

    private static uint[] ReadDims(ReadOnlySpan<byte> header)
    {
        var dims = new uint[header.Length / 4];
        for (var i = 0; i < dims.Length; i++)
        {
            dims[i] = BinaryPrimitives.ReadUInt32BigEndian(header.Slice(i * 4));
        }

        return dims;
    }

    private static int ReadFully(Stream stream, Span<byte> buffer, string name, string what)
    {
        try
        {
            return stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (EndOfStreamException ex)
        {
            // GZipStream throws this when the deflate stream ends mid-block.
            throw new IdxFormatException(name, $"truncated while reading the {what}", ex);
        }
    }

    /// <summary>A read-only stream that yields a few already-consumed bytes before the inner stream.</summary>
    private sealed class PrefixedStream(byte[] prefix, Stream inner) : Stream
    {
        private int _offset;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_offset < prefix.Length)
            {
                var n = Math.Min(buffer.Length, prefix.Length - _offset);
                prefix.AsSpan(_offset, n).CopyTo(buffer);
                _offset += n;
                return n;
            }

            return inner.Read(buffer);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
