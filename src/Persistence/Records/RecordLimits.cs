using ClusterNode.Persistence.Blobs;

namespace ClusterNode.Persistence.Records;

/// <summary>
/// What one record may hold. A record that does not fit a replication frame could never be sent, and the sender
/// would offer it again and again, stalling its origin's stream for good. Every local write therefore checks the
/// record it would make against these limits first; the cluster tightens them to the smallest of its members
/// (<see cref="Min"/>). Followers accept whatever fits a frame, so a record taken under looser limits still flows.
/// </summary>
/// <param name="MaxDataBytes">JSON data of one record (<c>cluster-node.record.max-size</c>).</param>
/// <param name="MaxBlobFields">Blob fields of one record (<c>cluster-node.record.max-blob-fields</c>).</param>
/// <param name="MaxBlobBytes">One blob (<c>cluster-node.blob.max-size</c>).</param>
/// <param name="MaxFrameBytes">
/// The record as a replication frame carries it at its largest (<see cref="FrameBytes"/>): the frame payload
/// limit, which is <c>akka.remote.dot-netty.tcp.maximum-frame-size</c> less the room kept for the frame's header
/// and the remote envelope. A record this size travels alone in its frame.
/// </param>
public sealed record RecordLimits(int MaxDataBytes, int MaxBlobFields, long MaxBlobBytes, int MaxFrameBytes)
{
    /// <summary>Only what the storage format can hold: for a store opened without a node's configuration.</summary>
    public static readonly RecordLimits Format = new(RecordCodec.MaxDataBytes, ushort.MaxValue, long.MaxValue, int.MaxValue);

    /// <summary>Limits that every record within both this and <paramref name="other"/> meets.</summary>
    public RecordLimits Min(RecordLimits other) => new(
        Math.Min(MaxDataBytes, other.MaxDataBytes),
        Math.Min(MaxBlobFields, other.MaxBlobFields),
        Math.Min(MaxBlobBytes, other.MaxBlobBytes),
        Math.Min(MaxFrameBytes, other.MaxFrameBytes));

    /// <summary>Why <paramref name="record"/> breaks these limits (naming the limit and the values), or null when it does not.</summary>
    public string? Problem(StoredRecord record) => Check(record)?.Message;

    /// <summary>
    /// The first limit <paramref name="record"/> breaks, or null. Covers every refusal of <c>RecordFrameCodec.Decode</c>
    /// that depends on the record itself; the rest (sequence order, clock skew) depends on the stream and the follower.
    /// </summary>
    public RecordLimitViolation? Check(StoredRecord record)
    {
        var name = $"{record.Table}/{record.Id}";
        if ((Names.Problem("table", record.Table) ?? Names.Problem("record id", record.Id)) is { } badName)
            return new(RecordLimitKind.Name, badName);
        if (!RecordStore.IsValidNodeId(record.Version.Origin))
            return new(RecordLimitKind.Name, $"record {name}: origin '{record.Version.Origin}' is not a valid node id");
        var fields = new HashSet<string>(StringComparer.Ordinal);
        foreach (var blob in record.Blobs)
        {
            if (Names.Problem("blob field", blob.Field) is { } badField) return new(RecordLimitKind.Name, $"record {name}: {badField}");
            if (!fields.Add(blob.Field)) return new(RecordLimitKind.Name, $"record {name} names blob field {blob.Field} twice");
            if (!BlobStore.IsValidFileId(blob.FileId)) return new(RecordLimitKind.Name, $"record {name}: blob {blob.Field} has file id '{blob.FileId}'");
        }
        if (record.Blobs.Count > MaxBlobFields)
            return new(RecordLimitKind.BlobFields,
                $"record {name} would have {record.Blobs.Count} blob fields, over cluster-node.record.max-blob-fields ({MaxBlobFields})");
        if (record.Data.Length > MaxDataBytes)
            return new(RecordLimitKind.DataSize,
                $"record {name} would have {record.Data.Length} bytes of data, over cluster-node.record.max-size ({MaxDataBytes} bytes)");
        foreach (var blob in record.Blobs)
        {
            if (blob.Size < 0 || blob.Size > MaxBlobBytes)
                return new(RecordLimitKind.BlobSize,
                    $"blob {blob.Field} of record {name} is {blob.Size} bytes, over cluster-node.blob.max-size ({MaxBlobBytes} bytes)");
        }
        var frameBytes = FrameBytes(record);
        if (frameBytes > MaxFrameBytes)
            return new(RecordLimitKind.FrameSize,
                $"record {name} would take {frameBytes} bytes in a replication frame (data, blob references and names), over the " +
                $"{MaxFrameBytes} bytes a frame carries (akka.remote.dot-netty.tcp.maximum-frame-size less its envelope)");
        return null;
    }

    /// <summary>
    /// The bytes <c>RecordFrameCodec.Append</c> writes for <paramref name="record"/> at most: sequence, table, id, the
    /// body, and every blob marked unavailable (a node forwarding the record before its blobs arrived marks them so).
    /// </summary>
    public static long FrameBytes(StoredRecord record) =>
        8 + RecordCodec.StringBytes(record.Table) + RecordCodec.StringBytes(record.Id) + RecordCodec.BodyBytes(record)
        + 2 + 2L * record.Blobs.Count;

    /// <summary>
    /// The largest record by frame bytes with <paramref name="dataBytes"/> of data and <paramref name="blobFields"/>
    /// blobs: every name of the longest allowed. Start-up checks that it fits a frame, so that the data and field limits
    /// alone keep a record within a frame.
    /// </summary>
    public static StoredRecord LargestRecord(int dataBytes, int blobFields)
    {
        var blobs = Enumerable.Range(0, blobFields)
            .Select(i => new BlobRef(i.ToString("D5").PadRight(Names.MaxLength, 'f'), new string('0', 32), 0, new byte[RecordCodec.Sha256Bytes]))
            .ToArray();
        var version = new RecordVersion(0, new string('n', RecordStore.MaxNodeIdLength));
        return new StoredRecord(new string('t', Names.MaxLength), new string('i', Names.MaxLength), version, false, new byte[dataBytes], blobs);
    }
}
