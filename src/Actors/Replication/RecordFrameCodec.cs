using ClusterNode.Persistence.Binary;
using ClusterNode.Persistence.Blobs;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Actors.Replication;

/// <summary>
/// A replicated transaction: the audit sequence it has in the sender's log, the record, and the file ids of the
/// record's blobs whose bytes the sender does not hold yet (a record it forwards before its blob arrived): no
/// chunks follow for those, and the follower must get the bytes from elsewhere (their origin) before counting
/// them durable.
/// </summary>
public sealed record ReplicatedRecord(long Sequence, StoredRecord Record, IReadOnlySet<string> UnavailableFileIds)
{
    public ReplicatedRecord(long sequence, StoredRecord record) : this(sequence, record, new HashSet<string>()) { }
}

/// <summary>
/// Encodes the records of a frame (sequence, table, id, version, data, blob references) and decodes them with
/// every check a frame from the network needs: names, file ids, sizes, hashes and sequence order. A frame
/// that fails a check is refused whole, with the reason, before anything of it is applied.
/// </summary>
public static class RecordFrameCodec
{
    public static void Append(ByteWriter writer, long sequence, StoredRecord record, IReadOnlyCollection<string>? unavailableFileIds = null)
    {
        writer.I64(sequence).String(record.Table).String(record.Id);
        RecordCodec.WriteBody(writer, record);
        if (unavailableFileIds is not { Count: > 0 })
        {
            writer.U16(0);
            return;
        }
        var unavailable = record.Blobs.Select((blob, index) => (blob, index)).Where(b => unavailableFileIds.Contains(b.blob.FileId)).ToArray();
        writer.U16((ushort)unavailable.Length);
        foreach (var (_, index) in unavailable) writer.U16((ushort)index);
    }

    /// <summary>What almost every record carries: no blob marked unavailable (shared, never changed).</summary>
    private static readonly IReadOnlySet<string> NoneUnavailable = System.Collections.Frozen.FrozenSet<string>.Empty;

    /// <summary>The fewest bytes one encoded record takes (sequence, names, version, flags, lengths).</summary>
    private const int MinEncodedRecordBytes = 32;

    /// <summary>
    /// How far ahead of this node's clock a version may be. A peer whose clock runs hours or days fast minted its
    /// versions in good faith: they are taken (they never drag this node's clock more than
    /// <c>cluster-node.clock.max-offset</c> along, and an overwrite here still beats them), so such a record cannot
    /// stall its stream. Only a version no working clock could mint is refused as bad input, far enough from the end
    /// of the clock's range that every record stays replaceable.
    /// </summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromDays(365 * 100);

    /// <summary>Far beyond any real log, far below where adding to a sequence could overflow.</summary>
    public const long MaxSequence = 1L << 60;

    public static IReadOnlyList<ReplicatedRecord> Decode(
        ReadOnlySpan<byte> payload, int count, long afterSequence, long upToSequence, int recordMaxBytes, long blobMaxBytes)
    {
        if (count < 0 || count > payload.Length / MinEncodedRecordBytes)
            throw new FormatException($"malformed frame: record count {count} does not fit {payload.Length} bytes of payload");
        if (upToSequence > MaxSequence) throw new FormatException($"malformed frame: sequence {upToSequence} is beyond {MaxSequence}");
        var latestAllowedMs = DateTimeOffset.UtcNow.Add(MaxClockSkew).ToUnixTimeMilliseconds();
        var records = new List<ReplicatedRecord>(count);
        var reader = new ByteReader(payload, "record frame");
        var previous = afterSequence;
        // The records of a frame mostly share a table and an origin: each is checked once, the last one kept.
        string? checkedTable = null;
        string? checkedOrigin = null;
        for (var i = 0; i < count; i++)
        {
            var sequence = reader.I64("sequence");
            if (sequence <= previous || sequence > upToSequence)
                throw new FormatException($"malformed frame: record {i} has sequence {sequence}, expected above {previous} and at most {upToSequence}");
            previous = sequence;
            var table = reader.String("table");
            var id = reader.String("id");
            var record = RecordCodec.ReadBody(ref reader, table, id);
            if (table != checkedTable)
            {
                Check(Names.Problem("table", table));
                checkedTable = table;
            }
            Check(Names.Problem("record id", id));
            if (record.Version.Origin != checkedOrigin)
            {
                if (!RecordStore.IsValidNodeId(record.Version.Origin)) throw new FormatException($"malformed frame: record {table}/{id} has origin '{record.Version.Origin}'");
                checkedOrigin = record.Version.Origin;
            }
            if (HybridLogicalClock.PhysicalMs(record.Version.Hlc) > latestAllowedMs)
                throw new FormatException($"malformed frame: record {table}/{id} has version {record.Version}, more than {MaxClockSkew.TotalDays / 365:F0} years ahead of this node's clock");
            if (record.Data.Length > recordMaxBytes) throw new FormatException($"malformed frame: record {table}/{id} has {record.Data.Length} bytes of data, over record.max-size {recordMaxBytes}");
            if (record.Deleted && (record.Data.Length > 0 || record.Blobs.Count > 0)) throw new FormatException($"malformed frame: tombstone {table}/{id} carries data");
            foreach (var blob in record.Blobs)
            {
                Check(Names.Problem("blob field", blob.Field));
                if (!BlobStore.IsValidFileId(blob.FileId)) throw new FormatException($"malformed frame: blob {table}/{id}/{blob.Field} has file id '{blob.FileId}'");
                if (blob.Size < 0 || blob.Size > blobMaxBytes) throw new FormatException($"malformed frame: blob {table}/{id}/{blob.Field} has size {blob.Size}, over blob.max-size {blobMaxBytes}");
            }
            if (record.Blobs.Count > 1 && record.Blobs.Select(b => b.Field).Distinct().Count() != record.Blobs.Count)
                throw new FormatException($"malformed frame: record {table}/{id} names a blob field twice");
            var unavailableCount = reader.U16("unavailable.count");
            if (unavailableCount == 0)
            {
                records.Add(new ReplicatedRecord(sequence, record, NoneUnavailable));
                continue;
            }
            var unavailable = new HashSet<string>();
            for (var u = 0; u < unavailableCount; u++)
            {
                var index = reader.U16("unavailable.index");
                if (index >= record.Blobs.Count || !unavailable.Add(record.Blobs[index].FileId))
                    throw new FormatException($"malformed frame: record {table}/{id} marks blob {index} unavailable, but has {record.Blobs.Count} distinct blobs");
            }
            records.Add(new ReplicatedRecord(sequence, record, unavailable));
        }
        reader.ExpectEnd();
        return records;

        static void Check(string? problem)
        {
            if (problem is not null) throw new FormatException($"malformed frame: {problem}");
        }
    }
}
