using System.Diagnostics;

namespace ClusterNode.Actors.Telemetry;

/// <summary>
/// What one leg (this node's receiver of one peer's log) publishes for its metrics: plain fields its actors overwrite or
/// add to as things happen, read by the observable instruments when a scrape or an export collects. Nothing here ever
/// asks an actor anything or allocates per record. Writers: the receiver (received, peer's log, resubscriptions,
/// failures, lag clock) and the watermark actor (committed, durable, persisted, outstanding blobs), each its own fields.
/// </summary>
public sealed class LegMetrics
{
    private readonly long[] _resubscriptions = new long[LegProblems.All.Length];
    private long _committed;
    private long _durable;
    private long _persistedCursor;
    private long _outstandingBlobs;
    private long _peerLastSequence;
    private long _bytesReceived;
    private long _recordsReceived;
    private long _blobSaveFailures;

    public LegMetrics(string peer)
    {
        Peer = peer;
        Lag = new LagClock(Stopwatch.Frequency / 10);
    }

    /// <summary>The peer's node id, as <c>/status</c> names it: the <c>peer</c> tag.</summary>
    public string Peer { get; }

    /// <summary>Written by the receiver only.</summary>
    public LagClock Lag { get; }

    public long Committed => Volatile.Read(ref _committed);
    public long Durable => Volatile.Read(ref _durable);
    public long PersistedCursor => Volatile.Read(ref _persistedCursor);
    public long OutstandingBlobs => Volatile.Read(ref _outstandingBlobs);
    public long PeerLastSequence => Volatile.Read(ref _peerLastSequence);
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);
    public long RecordsReceived => Interlocked.Read(ref _recordsReceived);
    public long BlobSaveFailures => Interlocked.Read(ref _blobSaveFailures);
    public long Resubscriptions(LegProblem reason) => Interlocked.Read(ref _resubscriptions[(int)reason]);

    /// <summary>Sequences this node is behind the peer's log, as <c>/status</c> counts them: from the persisted cursor.</summary>
    public long LagSequences => Math.Max(0, PeerLastSequence - PersistedCursor);

    public void Watermark(long committed, long durable, int outstandingBlobs)
    {
        Volatile.Write(ref _committed, committed);
        Volatile.Write(ref _durable, durable);
        Volatile.Write(ref _outstandingBlobs, outstandingBlobs);
    }

    public void Persisted(long cursor) => Volatile.Write(ref _persistedCursor, cursor);

    public void PeerLog(long lastSequence) => Volatile.Write(ref _peerLastSequence, lastSequence);

    public void Received(long bytes) => Interlocked.Add(ref _bytesReceived, bytes);

    public void ReceivedRecords(int records) => Interlocked.Add(ref _recordsReceived, records);

    public void BlobSaveFailed() => Interlocked.Increment(ref _blobSaveFailures);

    public void Resubscribed(LegProblem reason) => Interlocked.Increment(ref _resubscriptions[(int)reason]);
}
