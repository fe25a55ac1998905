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

    /// <summary>Records in key order after <paramref name="afterKey"/> (null: from the first).</summary>
    IReadOnlyList<StoredRecord> Scan(byte[]? afterKey, int maxCount);

    /// <summary>The blob's bytes, open for reading, or null when this node does not hold them whole.</summary>
    Stream? TryOpenBlob(BlobRef blob);
}

/// <summary>An audit entry and the record it names as that record stands now: another version if it was replaced since.</summary>
public readonly record struct LoggedRecord(AuditEntry Entry, StoredRecord? Current);
