using System.Buffers.Binary;
using System.Text;

namespace ClusterNode.Persistence.Journal;

/// <summary>
/// Writes the big-endian fields of a stored journal or snapshot value into a buffer sized up front, so that
/// encoding a value is one exact allocation. Strings are a 16-bit length then UTF-8; byte blocks a 32-bit length
/// then the bytes.
/// </summary>
public ref struct LmdbSpanWriter(Span<byte> destination)
{
    private readonly Span<byte> _destination = destination;
    private int _position;

    public readonly int Written => _position;

    public static int StringSize(string value, string field)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        if (count > ushort.MaxValue) throw new ArgumentException($"{field}: {count} UTF-8 bytes do not fit a 16-bit length");
        return 2 + count;
    }

    public static int BlockSize(ReadOnlySpan<byte> bytes) => 4 + bytes.Length;

    public void U8(byte value) => _destination[_position++] = value;

    public void U16(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(_destination[_position..], value);
        _position += 2;
    }

    public void I32(int value)
    {
        BinaryPrimitives.WriteInt32BigEndian(_destination[_position..], value);
        _position += 4;
    }

    public void I64(long value)
    {
        BinaryPrimitives.WriteInt64BigEndian(_destination[_position..], value);
        _position += 8;
    }

    /// <summary>Call <see cref="StringSize"/> first: it checks the length limit.</summary>
    public void String(string value)
    {
        var count = Encoding.UTF8.GetBytes(value, _destination[(_position + 2)..]);
        U16((ushort)count);
        _position += count;
    }

    public void Block(ReadOnlySpan<byte> bytes)
    {
        I32(bytes.Length);
        bytes.CopyTo(_destination[_position..]);
        _position += bytes.Length;
    }
}

/// <summary>
/// Reads what <see cref="LmdbSpanWriter"/> wrote. Every read is bounds-checked: a truncated or corrupt value
/// throws a <see cref="FormatException"/> naming the field, never reads past the end.
/// </summary>
public ref struct LmdbSpanReader(ReadOnlySpan<byte> source, string what)
{
    private readonly ReadOnlySpan<byte> _source = source;
    private readonly string _what = what;
    private int _position;

    public byte U8(string field) => Take(1, field)[0];
    public ushort U16(string field) => BinaryPrimitives.ReadUInt16BigEndian(Take(2, field));
    public int I32(string field) => BinaryPrimitives.ReadInt32BigEndian(Take(4, field));
    public long I64(string field) => BinaryPrimitives.ReadInt64BigEndian(Take(8, field));

    public string String(string field) => Encoding.UTF8.GetString(Take(U16(field), field));

    public ReadOnlySpan<byte> Block(string field)
    {
        var count = I32(field);
        if (count < 0) throw Malformed(field, $"negative length {count}");
        return Take(count, field);
    }

    public readonly void ExpectEnd()
    {
        if (_position != _source.Length) throw Malformed("end", $"{_source.Length - _position} unexpected trailing bytes");
    }

    private ReadOnlySpan<byte> Take(int count, string field)
    {
        if (count > _source.Length - _position) throw Malformed(field, $"needs {count} bytes, {_source.Length - _position} left");
        var slice = _source.Slice(_position, count);
        _position += count;
        return slice;
    }

    private readonly FormatException Malformed(string field, string detail) => new($"malformed {_what}: field '{field}': {detail}");
}
