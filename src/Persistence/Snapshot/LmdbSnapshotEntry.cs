using ClusterNode.Persistence.Binary;
using System.Buffers.Binary;
using ClusterNode.Persistence.Journal;

namespace ClusterNode.Persistence.Snapshot;

/// <summary>
/// One stored snapshot, the value under its <see cref="LmdbSequenceKey"/> (persistence id and sequence number).
/// Layout, big-endian:
/// <code>
/// u8     format version (1)
/// i64    timestamp, ticks of SnapshotMetadata.Timestamp
/// i32    serializer id
/// str16  serializer manifest
/// block  snapshot bytes (i32 length, then the bytes)
/// </code>
/// The timestamp comes first so that selecting by time reads 9 bytes of each candidate, not the snapshot.
/// </summary>
public sealed record LmdbSnapshotEntry(long TimestampTicks, int SerializerId, string SerializerManifest, byte[] Payload)
{
    public const byte FormatVersion = 1;

    public byte[] Encode()
    {
        return new ByteWriter(32 + Payload.Length)
            .U8(FormatVersion).I64(TimestampTicks).I32(SerializerId).String(SerializerManifest).Block(Payload)
            .ToArray();
    }

    /// <exception cref="FormatException">The value is truncated, corrupt or of an unknown format version.</exception>
    public static LmdbSnapshotEntry Decode(ReadOnlySpan<byte> value)
    {
        var reader = new ByteReader(value, "snapshot entry");
        CheckVersion(reader.U8("format version"));
        var timestampTicks = reader.I64("timestamp");
        var serializerId = reader.I32("serializer id");
        var serializerManifest = reader.String("serializer manifest");
        var payload = reader.Block("payload", int.MaxValue).ToArray();
        reader.ExpectEnd();
        return new LmdbSnapshotEntry(timestampTicks, serializerId, serializerManifest, payload);
    }

    /// <summary>Just the timestamp of a stored value, for matching selection criteria without decoding the rest.</summary>
    public static long ReadTimestampTicks(ReadOnlySpan<byte> value)
    {
        if (value.Length < 9) throw new FormatException($"malformed snapshot entry: {value.Length} bytes is shorter than its header");
        CheckVersion(value[0]);
        return BinaryPrimitives.ReadInt64BigEndian(value[1..9]);
    }

    private static void CheckVersion(byte version)
    {
        if (version != FormatVersion) throw new FormatException($"snapshot entry: unknown format version {version}");
    }
}
