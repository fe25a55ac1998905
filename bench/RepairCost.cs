using System.Diagnostics;
using ClusterNode.Actors.Replication;

namespace ClusterNode.Bench;

/// <summary>
/// How fast a node gets lost blob files back from a peer: B catches up with A, every one of B's blob files is deleted
/// and reported damaged at once, and the bench times B's repair (FetchBlob piece by piece, sha256 checked, fsync,
/// rename, directory fsync per blob) until every blob is back.
/// </summary>
public static class RepairCost
{
    public sealed record Result(int Blobs, int BlobBytes, TimeSpan Elapsed, bool Repaired)
    {
        public double MegabytesPerSecond => (double)Blobs * BlobBytes / 1e6 / Elapsed.TotalSeconds;
    }

    public static async Task<Result> Run(BenchNode a, string followerDirectory, int records, int blobBytes, TimeSpan limit)
    {
        await using var b = BenchNode.Start(followerDirectory);
        b.Hub.Tell(new ReplicationHub.ConnectPeer(a.Address), Akka.Actor.ActorRefs.NoSender);
        // As cluster membership does: each side knows the other, or A's hub refuses B's subscription and blob requests.
        a.Hub.Tell(new ReplicationHub.ConnectPeer(b.Address), Akka.Actor.ActorRefs.NoSender);
        var lastOfA = a.Store.LastSequence;
        var caughtUp = Stopwatch.StartNew();
        while ((await b.StatusAsync()).Peers.SingleOrDefault()?.PersistedCursor != lastOfA)
        {
            if (caughtUp.Elapsed > limit) return new Result(records, blobBytes, caughtUp.Elapsed, false);
            await Task.Delay(20);
        }

        var damaged = b.Store.Scan(null, records + 1).SelectMany(r => r.Blobs.Select(blob => (Record: r, Blob: blob))).ToList();
        foreach (var (_, blob) in damaged) File.Delete(b.Store.Blobs.PathOf(blob.FileId));
        var clock = Stopwatch.StartNew();
        foreach (var (record, blob) in damaged) b.Store.ReportDamagedBlob(record.Table, record.Id, blob, "deleted by the bench");
        while (clock.Elapsed < limit)
        {
            await Task.Delay(20);
            if ((await b.StatusAsync()).Repair?.Repaired >= damaged.Count) return new Result(damaged.Count, blobBytes, clock.Elapsed, true);
        }
        return new Result(damaged.Count, blobBytes, clock.Elapsed, false);
    }
}
