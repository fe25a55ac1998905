using ClusterNode.Persistence.Binary;
namespace ClusterNode.Persistence.Journal;

/// <summary>
/// One stored event, the value under its <see cref="LmdbSequenceKey"/> (which holds the persistence id and the
/// sequence number). Layout, big-endian:
/// <code>
/// u8     format version (1)
/// i64    timestamp, UTC ticks
/// i32    serializer id
/// str16  serializer manifest
/// str16  writer guid
/// str16  event adapter manifest (IPersistentRepresentation.Manifest)
/// u16    tag count, then each tag as str16
/// block  payload bytes (i32 length, then the bytes)
/// </code>
/// </summary>
/// <param name="Tags">Tags of a <c>Tagged</c> event; kept so a query side can be added without a new format.</param>
public sealed record LmdbJournalEntry(
    long TimestampTicks,
    int SerializerId,
    string SerializerManifest,
    string WriterGuid,
    string EventManifest,
    IReadOnlyList<string> Tags,
    byte[] Payload)
{
    public const byte FormatVersion = 1;

    public byte[] Encode()
    {
        if (Tags.Count > ushort.MaxValue) throw new ArgumentException($"tags: {Tags.Count} tags do not fit a 16-bit count");
        var writer = new ByteWriter(64 + Payload.Length)
            .U8(FormatVersion).I64(TimestampTicks).I32(SerializerId)
            .String(SerializerManifest).String(WriterGuid).String(EventManifest)
            .U16((ushort)Tags.Count);
        foreach (var tag in Tags) writer.String(tag);
        return writer.Block(Payload).ToArray();
    }

    /// <exception cref="FormatException">The value is truncated, corrupt or of an unknown format version.</exception>
    public static LmdbJournalEntry Decode(ReadOnlySpan<byte> value)
    {
        var reader = new ByteReader(value, "journal entry");
        var version = reader.U8("format version");
        if (version != FormatVersion) throw new FormatException($"journal entry: unknown format version {version}");
        var timestampTicks = reader.I64("timestamp");
        var serializerId = reader.I32("serializer id");
        var serializerManifest = reader.String("serializer manifest");
        var writerGuid = reader.String("writer guid");
        var eventManifest = reader.String("event manifest");
        var tags = new string[reader.U16("tag count")];
        for (var i = 0; i < tags.Length; i++) tags[i] = reader.String("tag");
        var payload = reader.Block("payload", int.MaxValue).ToArray();
        reader.ExpectEnd();
        return new LmdbJournalEntry(timestampTicks, serializerId, serializerManifest, writerGuid, eventManifest, tags, payload);
    }
}
