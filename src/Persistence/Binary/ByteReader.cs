using System.Buffers.Binary;

namespace ClusterNode.Persistence.Binary;

/// <summary>
/// Reads what <see cref="ByteWriter"/> wrote. Every read is bounds-checked: a truncated or malformed value
/// throws a <see cref="FormatException"/> naming what was being read, never reads past the end.
/// </summary>
public ref struct ByteReader(ReadOnlySpan<byte> source, string what)
{
    private readonly ReadOnlySpan<byte> _source = source;
    private readonly string _what = what;
    private int _position;

    public int Remaining => _source.Length - _position;
    public bool AtEnd => _position == _source.Length;

    public byte U8(string field) => Take(1, field)[0];

    public bool Bool(string field) => U8(field) switch
    {
        0 => false,
        1 => true,
        var other => throw Malformed(field, $"boolean byte {other}"),
    };

    public ushort U16(string field) => BinaryPrimitives.ReadUInt16BigEndian(Take(2, field));
    public int I32(string field) => BinaryPrimitives.ReadInt32BigEndian(Take(4, field));
    public long I64(string field) => BinaryPrimitives.ReadInt64BigEndian(Take(8, field));
    public ulong U64(string field) => BinaryPrimitives.ReadUInt64BigEndian(Take(8, field));

    public string String(string field)
    {
        var count = U16(field);
        return System.Text.Encoding.UTF8.GetString(Take(count, field));
    }

    public ReadOnlySpan<byte> Block(string field, int maxBytes)
    {
        var count = I32(field);
        if (count < 0 || count > maxBytes) throw Malformed(field, $"length {count} outside 0..{maxBytes}");
        return Take(count, field);
    }

    public ReadOnlySpan<byte> Raw(int count, string field) => Take(count, field);

    public void ExpectEnd()
    {
        if (!AtEnd) throw Malformed("end", $"{Remaining} unexpected trailing bytes");
    }

    private ReadOnlySpan<byte> Take(int count, string field)
    {
        if (count > Remaining) throw Malformed(field, $"needs {count} bytes, {Remaining} left");
        var slice = _source.Slice(_position, count);
        _position += count;
        return slice;
    }

    private FormatException Malformed(string field, string detail) =>
        new($"malformed {_what}: field '{field}': {detail}");
}
