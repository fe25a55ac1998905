namespace ClusterNode.Actors.Watermarks;

/// <summary>
/// The durability watermark of one peer's stream, as a pure state machine (no actors, no I/O) so that its
/// rules can be tested exhaustively.
///
/// <para><see cref="Committed"/> is the highest sequence of the peer's audit log this node has committed (or
/// been told carries nothing for it). <see cref="Durable"/> is the highest committed sequence such that every
/// blob of every transaction at or below it is durable: one less than the lowest transaction that still waits
/// for a blob, or <see cref="Committed"/> when none waits. It is precise per transaction, so a blob in flight
/// for transaction 120 holds the watermark at 119 however much traffic follows, and never lower.</para>
///
/// <para>A watermark lives for one subscription (epoch). A new subscription starts a new watermark from the
/// previous one's <see cref="Durable"/>, which never falls below the persisted cursor.</para>
/// </summary>
public sealed class DurabilityWatermark
{
    // Transactions that wait for blobs, by sequence, with the file ids still outstanding.
    private readonly SortedDictionary<long, HashSet<string>> _waiting = new();
    private readonly HashSet<(long Sequence, string FileId)> _failed = new();
    // A durable report that overtook its Committed (possible across actors); applied when the commit arrives.
    private readonly HashSet<(long Sequence, string FileId)> _durableEarly = new();

    public DurabilityWatermark(long startFrom)
    {
        if (startFrom < 0) throw new ArgumentOutOfRangeException(nameof(startFrom), startFrom, "a cursor is never negative");
        StartedFrom = startFrom;
        Committed = startFrom;
    }

    public long StartedFrom { get; }
    public long Committed { get; private set; }

    public long Durable => _waiting.Count == 0 ? Committed : _waiting.Keys.First() - 1;

    public int OutstandingBlobs => _waiting.Values.Sum(files => files.Count);

    public int FailedBlobs => _failed.Count;

    /// <summary>Transactions between the watermark and what is committed: the gap a crash now would re-fetch.</summary>
    public long BlobGap => Committed - Durable;

    /// <summary>
    /// Records that <paramref name="sequence"/> is committed and which of its blobs are still to be saved.
    /// A transaction without blobs and a sequence update that carries no data both pass an empty list.
    /// Returns false (and changes nothing) for a sequence at or below <see cref="Committed"/>: a stream
    /// delivers each sequence once and in order.
    /// </summary>
    public bool Commit(long sequence, IReadOnlyCollection<string> blobsToCome)
    {
        if (sequence <= Committed) return false;
        Committed = sequence;
        if (blobsToCome.Count == 0) return true; // most records: nothing to wait for, nothing to allocate
        var outstanding = new HashSet<string>(blobsToCome);
        outstanding.RemoveWhere(fileId => _durableEarly.Remove((sequence, fileId)));
        if (outstanding.Count > 0) _waiting[sequence] = outstanding;
        return true;
    }

    /// <summary>A sequence update that carries no data (a heartbeat, or writes the follower does not receive).</summary>
    public bool Advance(long sequence) => Commit(sequence, Array.Empty<string>());

    /// <summary>A blob is durable: fsynced and renamed, its directory fsynced.</summary>
    public void BlobDurable(long sequence, string fileId)
    {
        _failed.Remove((sequence, fileId));
        if (_waiting.TryGetValue(sequence, out var outstanding))
        {
            if (outstanding.Remove(fileId) && outstanding.Count == 0) _waiting.Remove(sequence);
        }
        else if (sequence > Committed)
        {
            _durableEarly.Add((sequence, fileId));
        }
    }

    /// <summary>A blob save failed: the transaction keeps waiting, and the watermark stays below it until a re-save.</summary>
    public void BlobFailed(long sequence, string fileId)
    {
        if (_waiting.TryGetValue(sequence, out var outstanding) && outstanding.Contains(fileId)) _failed.Add((sequence, fileId));
    }

    /// <summary>The watermark of the next subscription: it resumes from what is durable now, never from 0.</summary>
    public DurabilityWatermark Restart() => new(Durable);
}
