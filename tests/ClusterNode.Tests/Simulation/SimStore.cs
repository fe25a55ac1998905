using System.Security.Cryptography;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Tests.Simulation;

/// <summary>
/// One simulated node's disk: records and audit log as LMDB keeps them (a commit is durable at once), and blob
/// files that are durable only once flushed. A crash keeps what is durable and loses the rest, as FoundationDB's
/// non-durable files do. The rules of applying replicated records mirror <see cref="RecordStore.ApplyReplicated"/>.
/// </summary>
internal sealed class SimStore(string nodeId, long auditRetention, Func<long> wallClockMs) : IReplicationSource
{
    private readonly SortedDictionary<byte[], StoredRecord> _records = new(ByteOrder.Instance);
    private readonly SortedDictionary<long, AuditEntry> _audit = new();
    private readonly Dictionary<string, byte[]> _durableBlobs = new();

    public string NodeId { get; } = nodeId;
    public HybridLogicalClock Clock { get; private set; } = new(0, wallClockMs);
    public long LastSequence { get; private set; }
    public long FirstRetainedSequence => _audit.Count > 0 ? _audit.Keys.First() : LastSequence + 1;

    /// <summary>Every audit entry this node ever wrote, trimmed or not: what the invariants are checked against.</summary>
    public List<AuditEntry> History { get; } = new();

    /// <summary>The clock survives a crash at the highest value persisted, as the store restores it at start.</summary>
    public void Restart() => Clock = new HybridLogicalClock(Clock.Last, wallClockMs);

    public IReadOnlyList<AuditEntry> ReadAudit(long fromSequence, int maxCount) =>
        _audit.Where(e => e.Key >= fromSequence).Take(maxCount).Select(e => e.Value).ToList();

    public StoredRecord? Get(string table, string id) => _records.GetValueOrDefault(RecordCodec.Key(table, id));

    public IReadOnlyList<StoredRecord> Scan(byte[]? afterKey, int maxCount) =>
        _records.Where(r => afterKey is null || ByteOrder.Instance.Compare(r.Key, afterKey) > 0).Take(maxCount).Select(r => r.Value).ToList();

    public IEnumerable<StoredRecord> Records => _records.Values;

    public Stream? TryOpenBlob(BlobRef blob) =>
        _durableBlobs.TryGetValue(blob.FileId, out var bytes) && bytes.Length == blob.Size ? new MemoryStream(bytes, writable: false) : null;

    /// <summary>Present, durable and hashing to what the record says.</summary>
    public bool HoldsBlob(BlobRef blob) =>
        _durableBlobs.TryGetValue(blob.FileId, out var bytes) && SHA256.HashData(bytes).AsSpan().SequenceEqual(blob.Sha256);

    /// <summary>A blob renamed into place after its bytes and the directory were synced.</summary>
    public void PlaceDurable(string fileId, byte[] bytes) => _durableBlobs[fileId] = bytes;

    /// <summary>A local write: its blobs were made durable first; a kept blob must be here. Null when refused.</summary>
    public StoredRecord? WriteLocal(string table, string id, Func<StoredRecord?, RecordVersion, StoredRecord?> build)
    {
        var key = RecordCodec.Key(table, id);
        var previous = _records.GetValueOrDefault(key);
        var record = build(previous, new RecordVersion(previous is null ? Clock.Next() : Clock.After(previous.Version.Hlc), NodeId));
        if (record is null || record.Blobs.Any(b => !HoldsBlob(b))) return null;
        Append(key, record);
        if (previous is not null) DeleteUnreferenced(previous, record);
        return record;
    }

    /// <summary>
    /// A frame's records in one transaction: a newer version wins, the same version names the blobs missing here, an
    /// older one names the blobs it shares with the current version that are missing here (see RecordStore).
    /// </summary>
    public IReadOnlyList<string[]> ApplyReplicated(IReadOnlyList<StoredRecord> records)
    {
        var toSave = new List<string[]>(records.Count);
        foreach (var record in records)
        {
            Clock.Observe(record.Version.Hlc, 1000);
            var key = RecordCodec.Key(record.Table, record.Id);
            var existing = _records.GetValueOrDefault(key);
            if (existing is null || record.Version > existing.Version)
            {
                Append(key, record);
                if (existing is not null) DeleteUnreferenced(existing, record);
                toSave.Add(record.Blobs.Where(b => !HoldsBlob(b)).Select(b => b.FileId).ToArray());
            }
            else if (record.Version == existing.Version)
            {
                toSave.Add(record.Blobs.Where(b => !HoldsBlob(b)).Select(b => b.FileId).ToArray());
            }
            else
            {
                toSave.Add(record.Blobs.Where(b => existing.Blobs.Any(b.SameContentAs) && !HoldsBlob(b)).Select(b => b.FileId).ToArray());
            }
        }
        return toSave;
    }

    private void Append(byte[] key, StoredRecord record)
    {
        _records[key] = record;
        var entry = new AuditEntry(++LastSequence, record.Table, record.Id, record.Version);
        _audit[entry.Sequence] = entry;
        History.Add(entry);
        while (_audit.Count > auditRetention) _audit.Remove(_audit.Keys.First());
    }

    private void DeleteUnreferenced(StoredRecord previous, StoredRecord current)
    {
        foreach (var blob in previous.Blobs.Where(b => current.Blobs.All(c => c.FileId != b.FileId))) _durableBlobs.Remove(blob.FileId);
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();
        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
