using System.Text.Json;
using LightningDB;

namespace ClusterNode.Persistence.Records;

// Blob health: damage found at rest (a read or the scrub hashed a file and it was wrong or gone) is reported here and
// repaired from peers by whoever listens; a blob no member holds any more is recorded as lost.
public sealed partial class RecordStore
{
    /// <summary>
    /// A blob file of a live record was found missing or with other bytes (by a verified read or the scrub). The node's
    /// blob repair listens; the report itself changes nothing on disk.
    /// </summary>
    public event Action<BlobDamage>? BlobDamaged;

    public void ReportDamagedBlob(string table, string id, BlobRef blob, string problem)
    {
        _damaged[blob.FileId] = 0;
        Blobs.ForgetVerified(blob.FileId);
        BlobDamaged?.Invoke(new BlobDamage(table, id, blob, problem));
    }

    // Files reported damaged and not yet repaired: never streamed to a follower (sent as unavailable instead, so the
    // follower fetches the bytes elsewhere rather than refusing the same wrong bytes again and again).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _damaged = new();

    public bool IsDamaged(string fileId) => _damaged.ContainsKey(fileId);

    /// <summary>The file was found right again or repaired: it may be streamed.</summary>
    public void ClearDamaged(string fileId) => _damaged.TryRemove(fileId, out _);

    /// <summary>Every member was asked and none holds the bytes: kept in LMDB, so a restart still answers 410 Gone.</summary>
    public void MarkBlobLost(string table, string id, BlobRef blob, string reason, long atMs)
    {
        var value = JsonSerializer.SerializeToUtf8Bytes(new LostBlob(table, id, blob.Field, blob.FileId, blob.Size, blob.Sha256Hex, reason, atMs));
        lock (_writeGate)
        {
            using var tx = _lease.Environment.BeginTransaction();
            Put(tx, _lostBlobs, System.Text.Encoding.UTF8.GetBytes(blob.FileId), value);
            ThrowOnError(tx.Commit(), "commit");
        }
    }

    /// <summary>The bytes came back (a member that was away had them): the blob is no longer lost.</summary>
    public void ClearBlobLost(string fileId)
    {
        lock (_writeGate)
        {
            using var tx = _lease.Environment.BeginTransaction();
            var code = tx.Delete(_lostBlobs, System.Text.Encoding.UTF8.GetBytes(fileId));
            if (code != MDBResultCode.Success && code != MDBResultCode.NotFound) throw new IOException($"LMDB delete failed: {code}");
            ThrowOnError(tx.Commit(), "commit");
        }
    }

    public LostBlob? LostBlob(string fileId)
    {
        using var tx = _lease.Environment.BeginTransaction(TransactionBeginFlags.ReadOnly);
        var (code, _, value) = tx.Get(_lostBlobs, System.Text.Encoding.UTF8.GetBytes(fileId));
        return code == MDBResultCode.Success ? JsonSerializer.Deserialize<LostBlob>(value.AsSpan()) : null;
    }

    public IReadOnlyList<LostBlob> LostBlobs()
    {
        var lost = new List<LostBlob>();
        using var tx = _lease.Environment.BeginTransaction(TransactionBeginFlags.ReadOnly);
        using var cursor = tx.CreateCursor(_lostBlobs);
        var code = cursor.First().resultCode;
        while (code == MDBResultCode.Success)
        {
            var (_, _, value) = cursor.GetCurrent();
            if (JsonSerializer.Deserialize<LostBlob>(value.AsSpan()) is { } blob) lost.Add(blob);
            code = cursor.Next().resultCode;
        }
        return lost;
    }
}

/// <summary>A blob file of record <paramref name="Table"/>/<paramref name="Id"/> found missing or wrong, and how.</summary>
public sealed record BlobDamage(string Table, string Id, BlobRef Blob, string Problem);

/// <summary>A blob no member holds any more: the record keeps its reference, reads answer 410 Gone.</summary>
public sealed record LostBlob(string Table, string Id, string Field, string FileId, long Size, string Sha256, string Reason, long LostAtMs);
