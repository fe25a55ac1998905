using ClusterNode.Persistence.Binary;

namespace ClusterNode.Persistence.Records;

/// <summary>The binary layouts of records, blob references and audit entries, shared by LMDB and the wire.</summary>
public static class RecordCodec
{
    private const byte FormatVersion = 1;
    public const int Sha256Bytes = 32;
    public const int MaxDataBytes = 16 << 20;

    /// <summary>The table's UTF-8, a zero byte, the id's UTF-8: one allocation (it is made for every record read or applied).</summary>
    public static byte[] Key(string table, string id)
    {
        var tableBytes = System.Text.Encoding.UTF8.GetByteCount(table);
        var key = new byte[tableBytes + 1 + System.Text.Encoding.UTF8.GetByteCount(id)];
        System.Text.Encoding.UTF8.GetBytes(table, key);
        System.Text.Encoding.UTF8.GetBytes(id, key.AsSpan(tableBytes + 1));
        return key;
    }

    public static (string Table, string Id) ParseKey(ReadOnlySpan<byte> key)
    {
        var separator = key.IndexOf((byte)0);
        if (separator < 0) throw new FormatException("malformed record key: no table separator");
        return (System.Text.Encoding.UTF8.GetString(key[..separator]), System.Text.Encoding.UTF8.GetString(key[(separator + 1)..]));
    }

    public static void WriteVersion(ByteWriter writer, RecordVersion version) => writer.U64(version.Hlc).String(version.Origin);

    public static RecordVersion ReadVersion(ref ByteReader reader) => new(reader.U64("version.hlc"), reader.String("version.origin"));

    public static void WriteBlobRef(ByteWriter writer, BlobRef blob)
    {
        if (blob.Sha256.Length != Sha256Bytes) throw new ArgumentException($"blob '{blob.Field}' has a {blob.Sha256.Length}-byte hash");
        writer.String(blob.Field).String(blob.FileId).I64(blob.Size).Raw(blob.Sha256);
    }

    public static BlobRef ReadBlobRef(ref ByteReader reader)
    {
        var field = reader.String("blob.field");
        var fileId = reader.String("blob.fileId");
        var size = reader.I64("blob.size");
        var sha = reader.Raw(Sha256Bytes, "blob.sha256").ToArray();
        return new BlobRef(field, fileId, size, sha);
    }

    /// <summary>Table and id are part of the LMDB key, so the stored value carries the rest.</summary>
    public static void WriteBody(ByteWriter writer, StoredRecord record)
    {
        // Refused on write, or a record would be stored that no read can decode.
        if (record.Data.Length > MaxDataBytes)
            throw new ArgumentException($"record {record.Table}/{record.Id} has {record.Data.Length} bytes of data; at most {MaxDataBytes} can be stored");
        WriteVersion(writer, record.Version);
        writer.Bool(record.Deleted).Block(record.Data).U16(checked((ushort)record.Blobs.Count));
        foreach (var blob in record.Blobs) WriteBlobRef(writer, blob);
    }

    /// <summary>The bytes <see cref="WriteBody"/> writes for <paramref name="record"/>, without writing them.</summary>
    public static long BodyBytes(StoredRecord record) =>
        8 + StringBytes(record.Version.Origin) + 1 + 4 + record.Data.Length + 2
        + record.Blobs.Sum(b => StringBytes(b.Field) + StringBytes(b.FileId) + 8L + Sha256Bytes);

    /// <summary>A short string as <see cref="ByteWriter.String"/> writes it: a 16-bit length, then UTF-8.</summary>
    public static long StringBytes(string value) => 2 + System.Text.Encoding.UTF8.GetByteCount(value);

    /// <summary>
    /// The body of a stored value (as <see cref="WriteBody"/> wrote it) when the record stands at
    /// <paramref name="version"/> and names no blob; empty otherwise. A sender copies such a body into a frame as it is
    /// instead of decoding the record and encoding it again (the most common record of a catch-up).
    /// </summary>
    public static ReadOnlySpan<byte> PlainBodyAt(ReadOnlySpan<byte> value, RecordVersion version)
    {
        var reader = new ByteReader(value, "stored record");
        if (value.Length == 0 || reader.U8("format") != FormatVersion || reader.U64("version.hlc") != version.Hlc) return default;
        var origin = reader.Raw(reader.U16("version.origin"), "version.origin");
        // Node ids are at most 64 ASCII characters; anything else takes the decoding path.
        Span<byte> expected = stackalloc byte[256];
        if (version.Origin.Length > 64 || !System.Text.Encoding.UTF8.TryGetBytes(version.Origin, expected, out var count) || !origin.SequenceEqual(expected[..count]))
            return default;
        reader.Bool("deleted");
        reader.Block("data", MaxDataBytes);
        return reader.U16("blobs.count") == 0 && reader.AtEnd ? value[1..] : default;
    }

    public static StoredRecord ReadBody(ref ByteReader reader, string table, string id)
    {
        var version = ReadVersion(ref reader);
        var deleted = reader.Bool("deleted");
        var data = reader.Block("data", MaxDataBytes).ToArray();
        var count = reader.U16("blobs.count");
        var blobs = count == 0 ? Array.Empty<BlobRef>() : new BlobRef[count];
        for (var i = 0; i < count; i++) blobs[i] = ReadBlobRef(ref reader);
        return new StoredRecord(table, id, version, deleted, data, blobs);
    }

    public static byte[] EncodeValue(StoredRecord record) => EncodeValue(new ByteWriter(64 + record.Data.Length), record).ToArray();

    /// <summary>The stored value of <paramref name="record"/>, appended to <paramref name="writer"/>.</summary>
    public static ByteWriter EncodeValue(ByteWriter writer, StoredRecord record)
    {
        writer.U8(FormatVersion);
        WriteBody(writer, record);
        return writer;
    }

    public static StoredRecord DecodeValue(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        var (table, id) = ParseKey(key);
        return DecodeValue(table, id, value);
    }

    /// <summary>A stored value whose key's table and id are known already (no second decoding of the names).</summary>
    public static StoredRecord DecodeValue(string table, string id, ReadOnlySpan<byte> value)
    {
        var reader = new ByteReader(value, "stored record");
        var format = reader.U8("format");
        if (format != FormatVersion) throw new FormatException($"stored record {table}/{id} has unknown format {format}");
        var record = ReadBody(ref reader, table, id);
        reader.ExpectEnd();
        return record;
    }

    public static byte[] EncodeAudit(AuditEntry entry) => EncodeAudit(new ByteWriter(48), entry).ToArray();

    /// <summary>The audit value of <paramref name="entry"/>, appended to <paramref name="writer"/>.</summary>
    public static ByteWriter EncodeAudit(ByteWriter writer, AuditEntry entry)
    {
        writer.U8(FormatVersion).String(entry.Table).String(entry.Id);
        WriteVersion(writer, entry.Version);
        return writer;
    }

    public static AuditEntry DecodeAudit(long sequence, ReadOnlySpan<byte> value)
    {
        var reader = new ByteReader(value, "audit entry");
        var format = reader.U8("format");
        if (format != FormatVersion) throw new FormatException($"audit entry {sequence} has unknown format {format}");
        var table = reader.String("table");
        var id = reader.String("id");
        var version = ReadVersion(ref reader);
        reader.ExpectEnd();
        return new AuditEntry(sequence, table, id, version);
    }

    public static byte[] SequenceKey(long sequence)
    {
        var key = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(key, sequence);
        return key;
    }

    public static long ParseSequenceKey(ReadOnlySpan<byte> key) => System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(key);
}
