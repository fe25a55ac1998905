using ClusterNode.Persistence.Binary;
using ClusterNode.Persistence.Blobs;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Actors.Replication;

/// <summary>A replicated transaction: the audit sequence it has at its origin's log, and the record.</summary>
public sealed record ReplicatedRecord(long Sequence, StoredRecord Record);

/// <summary>
/// Encodes the records of a frame (sequence, table, id, version, data, blob references) and decodes them with
/// every check a frame from the network needs: names, file ids, sizes, hashes and sequence order. A frame
/// that fails a check is refused whole, with the reason, before anything of it is applied.
/// </summary>
public static class RecordFrameCodec
{
    public static void Append(ByteWriter writer, long sequence, StoredRecord record)
    {
        writer.I64(sequence).String(record.Table).String(record.Id);
        RecordCodec.WriteBody(writer, record);
    }

    /// <summary>The fewest bytes one encoded record takes (sequence, names, version, flags, lengths).</summary>
    private const int MinEncodedRecordBytes = 32;

    /// <summary>
    /// How far ahead of this node's clock a version may be. A version from far in the future would drag the
    /// hybrid logical clock along for good (in the worst case to its end, after which no write is possible),
    /// so such a record is refused as bad input instead.
    /// </summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromDays(1);

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
        for (var i = 0; i < count; i++)
        {
            var sequence = reader.I64("sequence");
            if (sequence <= previous || sequence > upToSequence)
                throw new FormatException($"malformed frame: record {i} has sequence {sequence}, expected above {previous} and at most {upToSequence}");
            previous = sequence;
            var table = reader.String("table");
            var id = reader.String("id");
            var record = RecordCodec.ReadBody(ref reader, table, id);
            Check(Names.Problem("table", table));
            Check(Names.Problem("record id", id));
            if (!RecordStore.IsValidNodeId(record.Version.Origin)) throw new FormatException($"malformed frame: record {table}/{id} has origin '{record.Version.Origin}'");
            if (HybridLogicalClock.PhysicalMs(record.Version.Hlc) > latestAllowedMs)
                throw new FormatException($"malformed frame: record {table}/{id} has version {record.Version}, more than {MaxClockSkew.TotalHours:F0} h ahead of this node's clock");
            if (record.Data.Length > recordMaxBytes) throw new FormatException($"malformed frame: record {table}/{id} has {record.Data.Length} bytes of data, over record.max-size {recordMaxBytes}");
            if (record.Deleted && (record.Data.Length > 0 || record.Blobs.Count > 0)) throw new FormatException($"malformed frame: tombstone {table}/{id} carries data");
            foreach (var blob in record.Blobs)
            {
                Check(Names.Problem("blob field", blob.Field));
                if (!BlobStore.IsValidFileId(blob.FileId)) throw new FormatException($"malformed frame: blob {table}/{id}/{blob.Field} has file id '{blob.FileId}'");
                if (blob.Size < 0 || blob.Size > blobMaxBytes) throw new FormatException($"malformed frame: blob {table}/{id}/{blob.Field} has size {blob.Size}, over blob.max-size {blobMaxBytes}");
            }
            if (record.Blobs.Select(b => b.Field).Distinct().Count() != record.Blobs.Count)
                throw new FormatException($"malformed frame: record {table}/{id} names a blob field twice");
            records.Add(new ReplicatedRecord(sequence, record));
        }
        reader.ExpectEnd();
        return records;

        static void Check(string? problem)
        {
            if (problem is not null) throw new FormatException($"malformed frame: {problem}");
        }
    }
}
