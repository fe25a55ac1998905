using System.Diagnostics;
using Akka.Actor;
using ClusterNode.Actors.Replication;

namespace ClusterNode.Bench;

/// <summary>
/// Measurement 2: a follower B that joins empty catches up with a node A that already holds a backlog of records
/// with one blob each. The clock starts when B is told to connect and stops when B's persisted cursor for A
/// (what B would resume from after a crash: everything up to it committed and its blobs durable) equals A's
/// last sequence. The managed heap is sampled while polling, to show that B's memory does not follow the backlog.
/// </summary>
public static class CatchUp
{
    public const string Table = "bench";
    public const string Field = "blob";

    /// <param name="HeapBeforeBytes">Managed heap after a forced GC with A loaded and B started, before B connects.</param>
    /// <param name="HeapMaxBytes">The largest managed heap seen while polling (no forced GC).</param>
    /// <param name="HeapAfterBytes">Managed heap after a forced GC once B caught up.</param>
    public sealed record Result(
        int Records,
        int BlobBytes,
        TimeSpan Elapsed,
        bool Converged,
        long HeapBeforeBytes,
        long HeapMaxBytes,
        long HeapAfterBytes,
        long Resubscriptions,
        string? LastProblem,
        long FollowerScrubBytes = 0)
    {
        public double MegabytesPerSecond => (double)Records * BlobBytes / 1e6 / Elapsed.TotalSeconds;
    }

    /// <summary>Adds records to A until it holds <paramref name="records"/>; the data of record i is always the same.</summary>
    public static long Fill(BenchNode a, int fromIndex, int records, int blobBytes)
    {
        long last = a.Store.LastSequence;
        for (var i = fromIndex; i < records; i++)
            last = a.WriteRecordWithBlob(Table, $"rec-{i:D6}", Field, Blob(i, blobBytes));
        return last;
    }

    /// <summary>Starts an empty B under <paramref name="followerDirectory"/>, connects it to A and times its catch-up.</summary>
    /// <param name="followerHocon">B's settings over the bench's, e.g. a scrub running during catch-up.</param>
    /// <param name="atClockStart">Called as the clock starts (B is up, not yet connected); <paramref name="atClockStop"/> as it stops.</param>
    public static async Task<Result> Run(BenchNode a, string followerDirectory, int records, int blobBytes, TimeSpan limit, string followerHocon = "",
        Action? atClockStart = null, Action<TimeSpan>? atClockStop = null)
    {
        var lastOfA = a.Store.LastSequence;
        await using var b = BenchNode.Start(followerDirectory, followerHocon);
        var heapBefore = ForcedHeap();
        var heapMax = heapBefore;

        atClockStart?.Invoke();
        var clock = Stopwatch.StartNew();
        b.Hub.Tell(new ReplicationHub.ConnectPeer(a.Address));
        // As cluster membership does: each side knows the other, or A's hub refuses B's subscription.
        a.Hub.Tell(new ReplicationHub.ConnectPeer(b.Address));
        Receiver.PeerStatus? peer = null;
        var converged = false;
        while (clock.Elapsed < limit)
        {
            await Task.Delay(20);
            heapMax = Math.Max(heapMax, GC.GetTotalMemory(forceFullCollection: false));
            peer = (await b.StatusAsync()).Peers.SingleOrDefault(p => p.Peer == a.Store.NodeId);
            if (Trace && peer is not null)
                Console.Error.WriteLine($"  {clock.Elapsed.TotalMilliseconds,7:F0} ms  committed {peer.Committed,6}  durable {peer.Durable,6}  persisted {peer.PersistedCursor,6}  outstanding blobs {peer.OutstandingBlobs,4}  received {peer.RecordsReceived,6}");
            if (peer is not null && peer.PersistedCursor == lastOfA)
            {
                converged = true;
                break;
            }
        }
        var elapsed = clock.Elapsed;
        atClockStop?.Invoke(elapsed);
        var scrubBytes = (await b.ScrubStatusAsync()).BytesHashed;
        var heapAfter = ForcedHeap();
        return new Result(records, blobBytes, elapsed, converged, heapBefore, heapMax, heapAfter,
            peer?.Resubscriptions ?? 0, peer?.LastProblem, scrubBytes);
    }

    /// <summary>CLUSTER_BENCH_TRACE=1 prints the follower's progress at every poll, to see where catch-up time goes.</summary>
    private static readonly bool Trace = Environment.GetEnvironmentVariable("CLUSTER_BENCH_TRACE") == "1";

    private static long ForcedHeap()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static byte[] Blob(int index, int sizeBytes)
    {
        var bytes = new byte[sizeBytes];
        new Random(unchecked(index * 7919 + sizeBytes)).NextBytes(bytes);
        return bytes;
    }
}
