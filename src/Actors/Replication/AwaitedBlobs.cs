using ClusterNode.Actors.Streams;
using ClusterNode.Actors.Watermarks;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Actors.Replication;

/// <summary>
/// Blobs a stream's sender did not have (it forwarded their records before their bytes reached it): they reach this
/// node by another stream, their origin's, and are looked for in the blob store until they have.
/// </summary>
internal sealed class AwaitedBlobs(RecordStore store, TimeSpan repairAfter)
{
    private readonly List<AwaitedBlob> _awaited = new();
    private readonly Dictionary<string, long> _since = new();

    public int Count => _awaited.Count;

    public void Add(AwaitedBlob blob)
    {
        _awaited.Add(blob);
        _since.TryAdd(blob.Blob.FileId, Environment.TickCount64);
    }

    /// <summary>
    /// The blobs of <paramref name="epoch"/> that are durable now. A blob at its final name was fsynced before it was
    /// renamed there; one directory fsync makes the names of all that arrived durable too. A blob the record's current
    /// version here no longer names is owed by nobody: the newer version replaced it (and is tracked by the stream or
    /// write that brought it), so it no longer holds the watermark; nor does a blob lost everywhere (its loss is kept in
    /// the store and reported loudly; it is repaired if a member comes back with it). One awaited longer than
    /// <paramref name="repairAfter"/> is reported for repair: its origin may have lost it, and another member may hold it.
    /// Throws on a failed directory fsync, changing nothing.
    /// </summary>
    public IReadOnlyList<Watermark.BlobDurable> Poll(long epoch)
    {
        _awaited.RemoveAll(awaited => awaited.Epoch != epoch);
        foreach (var fileId in _since.Keys.Where(f => _awaited.All(a => a.Blob.FileId != f)).ToList()) _since.Remove(fileId);
        var moot = _awaited.Where(awaited => store.Get(awaited.Table, awaited.Id)?.Blobs.Any(b => b.FileId == awaited.Blob.FileId) != true ||
                                             store.LostBlob(awaited.Blob.FileId) is not null).ToList();
        var overdue = Environment.TickCount64 - (long)repairAfter.TotalMilliseconds;
        foreach (var awaited in _awaited.Except(moot).Where(a => _since[a.Blob.FileId] < overdue).ToList())
        {
            store.ReportDamagedBlob(awaited.Table, awaited.Id, awaited.Blob, "no stream brings it: its sender lacked the bytes");
            _since[awaited.Blob.FileId] = Environment.TickCount64; // reported again only after another while
        }
        var arrived = _awaited.Except(moot).Where(awaited => store.Blobs.IsPresent(awaited.Blob)).ToList();
        if (arrived.Count > 0) store.Blobs.SyncDirectory();
        var durable = moot.Concat(arrived).ToList();
        _awaited.RemoveAll(durable.Contains);
        return durable.Select(a => new Watermark.BlobDurable(a.Epoch, a.Position, a.Blob.FileId, a.InCopy)).ToArray();
    }
}
