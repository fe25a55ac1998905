namespace ClusterNode.Persistence.Records;

/// <summary>A blob attached to a record field: the file that holds it and what its bytes must hash to.</summary>
public sealed record BlobRef(string Field, string FileId, long Size, byte[] Sha256)
{
    public string Sha256Hex => Convert.ToHexStringLower(Sha256);

    public bool SameContentAs(BlobRef other) =>
        FileId == other.FileId && Size == other.Size && Sha256.AsSpan().SequenceEqual(other.Sha256);
}

/// <summary>
/// A record as stored and as replicated. A delete is a tombstone (Deleted, no data, no blobs) so that it
/// replicates and wins over older versions like any other write.
/// </summary>
public sealed record StoredRecord(
    string Table,
    string Id,
    RecordVersion Version,
    bool Deleted,
    byte[] Data,
    IReadOnlyList<BlobRef> Blobs)
{
    public BlobRef? Blob(string field) => Blobs.FirstOrDefault(b => b.Field == field);
}

/// <summary>One entry of the audit log: which record changed to which version, at which local sequence.</summary>
public sealed record AuditEntry(long Sequence, string Table, string Id, RecordVersion Version);

/// <summary>What applying a replicated record did, and which of its blobs this node still has to save.</summary>
public enum ApplyKind { Applied, Same, Stale }

public sealed record ApplyOutcome(ApplyKind Kind, long LocalSequence, IReadOnlyList<BlobRef> BlobsToSave);

public sealed record LocalWrite(long Sequence, StoredRecord Record);
