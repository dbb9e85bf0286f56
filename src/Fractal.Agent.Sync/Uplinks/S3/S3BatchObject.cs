using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using Fractal.Contracts.Ingest;
using Google.Protobuf;

namespace Fractal.Agent.Sync.Uplinks.S3;

/// <summary>
/// The body of an S3 uplink object, and its reader. An object is self-verifying: after
/// decompression it is a 4-byte magic (<c>FRB1</c> for a <see cref="RecordBatch"/>, <c>FLR1</c> for a
/// <see cref="LossReport"/>), the SHA-256 of the payload (32 bytes), then the payload: the protobuf
/// message itself. The whole is gzip-compressed unless compression is off (gzip adds its own
/// CRC-32). The same SHA-256 is in the object's metadata (<see cref="MetadataSha256"/>).
/// </summary>
public static class S3BatchObject
{
    /// <summary>Metadata key (after <c>x-amz-meta-</c>) of the object format, <see cref="RecordsFormat"/> or <see cref="LossesFormat"/>.</summary>
    public const string MetadataFormat = "fractal-format";

    /// <summary>Metadata key of the number of records (or loss entries) in the object.</summary>
    public const string MetadataCount = "fractal-count";

    /// <summary>Metadata key of the first sequence (or ledger id) in the object.</summary>
    public const string MetadataFirst = "fractal-first";

    /// <summary>Metadata key of the last sequence (or ledger id) in the object.</summary>
    public const string MetadataLast = "fractal-last";

    /// <summary>Metadata key of the lowercase hex SHA-256 of the uncompressed payload.</summary>
    public const string MetadataSha256 = "fractal-sha256";

    /// <summary>Metadata key of the node id.</summary>
    public const string MetadataNode = "fractal-node";

    /// <summary>Metadata key of the stream (record objects only).</summary>
    public const string MetadataStream = "fractal-stream";

    /// <summary>Metadata key of the compression (<c>gzip</c> or <c>none</c>).</summary>
    public const string MetadataCompression = "fractal-compression";

    /// <summary>Format value of record objects.</summary>
    public const string RecordsFormat = "records-v1";

    /// <summary>Format value of loss objects.</summary>
    public const string LossesFormat = "losses-v1";

    /// <summary>Largest decompressed object <see cref="Decode"/> accepts by default (256 MiB).</summary>
    public const int DefaultMaxDecodedBytes = 256 * 1024 * 1024;

    internal const int HeaderLength = 4 + 32;

    private static ReadOnlySpan<byte> RecordsMagic => "FRB1"u8;

    private static ReadOnlySpan<byte> LossesMagic => "FLR1"u8;

    /// <summary>
    /// Decodes a record object, verifying the gzip CRC and the SHA-256 of the payload.
    /// </summary>
    /// <exception cref="InvalidDataException">The object is corrupt, truncated, too large or not a record object.</exception>
    public static RecordBatch Decode(ReadOnlySpan<byte> content, int maxDecodedBytes = DefaultMaxDecodedBytes)
    {
        var payload = Unwrap(content, RecordsMagic, maxDecodedBytes);
        return Parse(RecordBatch.Parser, payload);
    }

    /// <summary>Decodes a loss object, verifying the gzip CRC and the SHA-256 of the payload.</summary>
    /// <exception cref="InvalidDataException">The object is corrupt, truncated, too large or not a loss object.</exception>
    public static LossReport DecodeLosses(ReadOnlySpan<byte> content, int maxDecodedBytes = DefaultMaxDecodedBytes)
    {
        var payload = Unwrap(content, LossesMagic, maxDecodedBytes);
        return Parse(LossReport.Parser, payload);
    }

    /// <summary>Encodes a record object.</summary>
    internal static Encoded Encode(RecordBatch batch, S3UplinkCompression compression) => Wrap(batch, RecordsMagic, compression);

    /// <summary>Encodes a loss object.</summary>
    internal static Encoded EncodeLosses(LossReport report, S3UplinkCompression compression) => Wrap(report, LossesMagic, compression);

    private static Encoded Wrap(IMessage message, ReadOnlySpan<byte> magic, S3UplinkCompression compression)
    {
        var size = message.CalculateSize();
        var plain = new byte[HeaderLength + size];
        magic.CopyTo(plain);
        message.WriteTo(plain.AsSpan(HeaderLength));
        SHA256.HashData(plain.AsSpan(HeaderLength), plain.AsSpan(4, 32));
        var sha256 = Convert.ToHexStringLower(plain.AsSpan(4, 32));
        if (compression == S3UplinkCompression.None)
        {
            return new Encoded(plain, sha256, plain.Length);
        }

        using var output = new MemoryStream(capacity: Math.Max(256, plain.Length / 2));
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(plain);
        }

        return new Encoded(output.ToArray(), sha256, plain.Length);
    }

    private static byte[] Unwrap(ReadOnlySpan<byte> content, ReadOnlySpan<byte> magic, int maxDecodedBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDecodedBytes, HeaderLength);
        byte[] plain;
        if (content.Length >= 2 && content[0] == 0x1f && content[1] == 0x8b)
        {
            plain = Gunzip(content, maxDecodedBytes);
        }
        else if (content.Length <= maxDecodedBytes)
        {
            plain = content.ToArray();
        }
        else
        {
            throw new InvalidDataException($"The object is larger than {maxDecodedBytes} bytes.");
        }

        if (plain.Length < HeaderLength)
        {
            throw new InvalidDataException($"The object is truncated: {plain.Length} bytes, less than its {HeaderLength}-byte header.");
        }

        if (!plain.AsSpan(0, 4).SequenceEqual(magic))
        {
            throw new InvalidDataException(
                $"The object is not a {System.Text.Encoding.ASCII.GetString(magic)} object (magic 0x{BinaryPrimitives.ReadUInt32BigEndian(plain):x8}).");
        }

        Span<byte> actual = stackalloc byte[32];
        SHA256.HashData(plain.AsSpan(HeaderLength), actual);
        if (!CryptographicOperations.FixedTimeEquals(actual, plain.AsSpan(4, 32)))
        {
            throw new InvalidDataException(
                $"Checksum mismatch: the payload's SHA-256 is {Convert.ToHexStringLower(actual)}, the object says {Convert.ToHexStringLower(plain.AsSpan(4, 32))}.");
        }

        return plain;
    }

    private static byte[] Gunzip(ReadOnlySpan<byte> content, int maxDecodedBytes)
    {
        using var input = new MemoryStream(content.ToArray(), writable: false);
        using var gzip = new GZipStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        var buffer = new byte[81920];
        var tooLarge = false;
        try
        {
            int read;
            while ((read = gzip.Read(buffer)) > 0)
            {
                if (output.Length + read > maxDecodedBytes)
                {
                    tooLarge = true;
                    break;
                }

                output.Write(buffer, 0, read);
            }
        }
        catch (InvalidDataException ex)
        {
            // zlib checks the deflate stream and the gzip trailer (CRC-32, length).
            throw new InvalidDataException($"The object is not valid gzip (corrupt or truncated): {ex.Message}", ex);
        }

        if (tooLarge)
        {
            throw new InvalidDataException($"The object decompresses to more than {maxDecodedBytes} bytes.");
        }

        // GZipStream stops quietly at the end of the input, so a cut-off trailer goes unnoticed by
        // zlib; the trailer's ISIZE (length mod 2^32, of the one member the encoder writes) must match.
        var size = BinaryPrimitives.ReadUInt32LittleEndian(content[^4..]);
        if (content.Length < 18 || size != (uint)output.Length)
        {
            throw new InvalidDataException($"The object is truncated gzip: its trailer says {size} bytes, {output.Length} were decoded.");
        }

        return output.ToArray();
    }

    private static T Parse<T>(MessageParser<T> parser, byte[] plain)
        where T : IMessage<T>
    {
        try
        {
            return parser.ParseFrom(plain.AsSpan(HeaderLength));
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new InvalidDataException($"The payload is not a valid {typeof(T).Name}: {ex.Message}", ex);
        }
    }

    /// <summary>An encoded object: the bytes to upload, the payload's SHA-256 (hex) and the uncompressed length.</summary>
    internal readonly record struct Encoded(byte[] Content, string PayloadSha256, int DecodedLength);
}
