using System.Buffers.Binary;

namespace Fractal.Learning.Data;

/// <summary>Element type codes of the IDX format (third byte of the magic number).</summary>
public enum IdxDataType : byte
{
    /// <summary>Unsigned byte (0x08).</summary>
    UnsignedByte = 0x08,

    /// <summary>Signed byte (0x09).</summary>
    SignedByte = 0x09,

    /// <summary>Big-endian 16-bit integer (0x0B).</summary>
    BigEndianInt16 = 0x0B,

    /// <summary>Big-endian 32-bit integer (0x0C).</summary>
    BigEndianInt32 = 0x0C,

    /// <summary>Big-endian IEEE 754 single (0x0D).</summary>
    BigEndianFloat32 = 0x0D,

    /// <summary>Big-endian IEEE 754 double (0x0E).</summary>
    BigEndianFloat64 = 0x0E,
}

/// <summary>A parsed IDX tensor: element type, dimensions and the raw (big-endian) payload.</summary>
public sealed class IdxArray
{
    private readonly byte[] _data;

    internal IdxArray(IdxDataType dataType, int[] dimensions, byte[] data)
    {
        DataType = dataType;
        Dimensions = dimensions;
        _data = data;
    }

    /// <summary>The element type.</summary>
    public IdxDataType DataType { get; }

    /// <summary>The dimensions, outermost first (for images: count, rows, columns).</summary>
    public IReadOnlyList<int> Dimensions { get; }

    /// <summary>The number of elements (product of the dimensions).</summary>
    public long ElementCount => _data.Length / ElementSize(DataType);

    /// <summary>The raw payload as stored in the file (multi-byte elements are big-endian).</summary>
    public ReadOnlyMemory<byte> RawData => _data;

    /// <summary>The payload of an unsigned-byte array without copying.</summary>
    /// <exception cref="InvalidOperationException">The array is not of type <see cref="IdxDataType.UnsignedByte"/>.</exception>
    public byte[] GetBytes()
    {
        if (DataType != IdxDataType.UnsignedByte)
        {
            throw new InvalidOperationException($"IDX array has element type {DataType}, not {IdxDataType.UnsignedByte}.");
        }

        return _data;
    }

    /// <summary>The payload converted to floats (any element type).</summary>
    public float[] ToSingles()
    {
        var result = new float[ElementCount];
        ReadOnlySpan<byte> d = _data;
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = DataType switch
            {
                IdxDataType.UnsignedByte => d[i],
                IdxDataType.SignedByte => (sbyte)d[i],
                IdxDataType.BigEndianInt16 => BinaryPrimitives.ReadInt16BigEndian(d.Slice(i * 2)),
                IdxDataType.BigEndianInt32 => BinaryPrimitives.ReadInt32BigEndian(d.Slice(i * 4)),
                IdxDataType.BigEndianFloat32 => BinaryPrimitives.ReadSingleBigEndian(d.Slice(i * 4)),
                _ => (float)BinaryPrimitives.ReadDoubleBigEndian(d.Slice(i * 8)),
            };
        }

        return result;
    }

    internal static int ElementSize(IdxDataType type) => type switch
    {
        IdxDataType.UnsignedByte or IdxDataType.SignedByte => 1,
        IdxDataType.BigEndianInt16 => 2,
        IdxDataType.BigEndianInt32 or IdxDataType.BigEndianFloat32 => 4,
        IdxDataType.BigEndianFloat64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Unknown IDX element type."),
    };
}
