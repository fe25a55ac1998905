namespace ClusterNode.Persistence.Records;

/// <summary>
/// What a sender reads to stream a node's writes to a follower: the audit log, the records, and their blobs. The
/// store on LMDB is one; the deterministic simulation of replication keeps its own in memory.
/// </summary>
public interface IReplicationSource
{
    long LastSequence { get; }

    /// <summary>The oldest audit sequence still kept; <see cref="LastSequence"/> + 1 when the log is empty.</summary>
    long FirstRetainedSequence { get; }

    IReadOnlyList<AuditEntry> ReadAudit(long fromSequence, int maxCount);

    StoredRecord? Get(string table, string id);

    /// <summary>
    /// Audit entries from <paramref name="fromSequence"/> on, at most <paramref name="maxCount"/>, each with its record as
    /// it stands now (null: none). A store reads them in one go; this default asks for each record on its own.
    /// </summary>
    IReadOnlyList<LoggedRecord> ReadLog(long fromSequence, int maxCount) =>
        ReadAudit(fromSequence, maxCount).Select(entry => new LoggedRecord(entry, Get(entry.Table, entry.Id))).ToList();

    /// <summary>
    /// As <see cref="ReadLog"/>, for a sender building frames: a record that stands at its entry's version and names no
    /// blob may come as its encoded body (<see cref="LoggedRecord.PlainBody"/>) rather than decoded, to be copied into
    /// the frame as it is. This default decodes every record.
    /// </summary>
    IReadOnlyList<LoggedRecord> ReadLogForSending(long fromSequence, int maxCount) => ReadLog(fromSequence, maxCount);

    /// <summary>Records in key order after <paramref name="afterKey"/> (null: from the first).</summary>
    IReadOnlyList<StoredRecord> Scan(byte[]? afterKey, int maxCount);

    /// <summary>The blob's bytes, open for reading, or null when this node does not hold them whole.</summary>
    Stream? TryOpenBlob(BlobRef blob);
}

/// <summary>An audit entry and the record it names as that record stands now: another version if it was replaced since.</summary>
/// <para><paramref name="PlainBody"/>, when set (only by <see cref="IReplicationSource.ReadLogForSending"/>): the record
/// stands at the entry's version, names no blob, and these are its bytes as <see cref="RecordCodec.WriteBody"/> writes
/// them; <paramref name="Current"/> is then null.</para>
public readonly record struct LoggedRecord(AuditEntry Entry, StoredRecord? Current, byte[]? PlainBody = null);
