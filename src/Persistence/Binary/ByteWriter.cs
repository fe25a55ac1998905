using System.Buffers.Binary;
using System.Text;

namespace ClusterNode.Persistence.Binary;

/// <summary>A growable big-endian writer for the compact binary layouts of stored values and wire messages.</summary>
public sealed class ByteWriter(int initialCapacity = 256)
{
    private byte[] _buffer = new byte[Math.Max(16, initialCapacity)];
    private int _length;

    public int Length => _length;

    public ByteWriter U8(byte value) { Ensure(1)[0] = value; _length += 1; return this; }
    public ByteWriter Bool(bool value) => U8(value ? (byte)1 : (byte)0);
    public ByteWriter U16(ushort value) { BinaryPrimitives.WriteUInt16BigEndian(Ensure(2), value); _length += 2; return this; }
    public ByteWriter I32(int value) { BinaryPrimitives.WriteInt32BigEndian(Ensure(4), value); _length += 4; return this; }
    public ByteWriter I64(long value) { BinaryPrimitives.WriteInt64BigEndian(Ensure(8), value); _length += 8; return this; }
    public ByteWriter U64(ulong value) { BinaryPrimitives.WriteUInt64BigEndian(Ensure(8), value); _length += 8; return this; }

    /// <summary>A short string (names, ids): a 16-bit length then UTF-8.</summary>
    public ByteWriter String(string value)
    {
        var count = System.Text.Encoding.UTF8.GetByteCount(value);
        if (count > ushort.MaxValue) throw new ArgumentException($"string of {count} bytes is too long to encode");
        U16((ushort)count);
        System.Text.Encoding.UTF8.GetBytes(value, Ensure(count));
        _length += count;
        return this;
    }

    /// <summary>A byte block: a 32-bit length then the bytes.</summary>
    public ByteWriter Block(ReadOnlySpan<byte> bytes)
    {
        I32(bytes.Length);
        return Raw(bytes);
    }

    public ByteWriter Raw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Ensure(bytes.Length));
        _length += bytes.Length;
        return this;
    }

    /// <summary>Drops what was written after the first <paramref name="length"/> bytes (an item that did not fit).</summary>
    public ByteWriter Truncate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, _length);
        _length = length;
        return this;
    }

    /// <summary>Empties the writer and keeps its buffer: one writer serves many values in a loop.</summary>
    public ByteWriter Clear() => Truncate(0);

    public byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();
    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, _length);

    private Span<byte> Ensure(int count)
    {
        if (_length + count > _buffer.Length)
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        return _buffer.AsSpan(_length, count);
    }
}
