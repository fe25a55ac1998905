namespace ClusterNode.Actors.Watermarks;

/// <summary>
/// The follower's side of one peer's stream after the receiver: the <see cref="DurabilityWatermark"/> of each
/// subscription, the copy's watermark while a copy runs, and what to persist next, as a pure state machine. The
/// <see cref="WatermarkActor"/> drives it and the deterministic simulation drives it the same way.
///
/// <para>The named positions: <see cref="Committed"/> (applied here), <see cref="Durable"/> (applied, and every blob
/// at or below it durable), <see cref="PersistedCursor"/> (durable and on the journal: where a restart resumes). The
/// receipt the receiver sends the peer is min(committed, durable) as last reported.</para>
///
/// <para>During a copy the cursor stays where it was: only the key of the highest copied record below every copied
/// blob still due is persisted, and the cursor moves to the copy's start once every copied blob is durable.</para>
/// </summary>
public sealed class PeerCursor
{
    private DurabilityWatermark _log;
    private CopyWatermark? _copy;
    private long _epoch = long.MinValue;
    private bool _persistInFlight;
    private (long Committed, long Durable) _lastReported = (-1, -1);

    /// <summary>Starts from what the cursor store recovered (never 0 unless nothing was ever persisted).</summary>
    public PeerCursor(long persistedCursor, long copyStart = 0, byte[]? copyAfterKey = null, string peerIncarnation = "")
    {
        PersistedCursor = persistedCursor;
        PeerIncarnation = peerIncarnation;
        _log = new DurabilityWatermark(persistedCursor);
        if (copyStart > 0)
        {
            _copy = new CopyWatermark(copyStart, copyAfterKey ?? []);
            PersistedCopyKey = _copy.DurableKey;
        }
    }

    public long Epoch => _epoch;

    /// <summary>The peer's incarnation the cursor belongs to ("" until one is recorded).</summary>
    public string PeerIncarnation { get; set; }
    public long Committed => _log.Committed;
    /// <summary>
    /// While a copy runs, the log's watermark (which the copy's end restarts at the copy's start) says nothing about the
    /// copied records: only the persisted cursor is durable until every copied blob is.
    /// </summary>
    public long Durable => _copy is null ? _log.Durable : Math.Min(_log.Durable, PersistedCursor);
    public long PersistedCursor { get; private set; }

    /// <summary>Not null while the journal holds a copy's progress: every record up to this key is durable here.</summary>
    public byte[]? PersistedCopyKey { get; private set; }

    public long? CopyStart => _copy?.CopyStart;
    public int OutstandingBlobs => _log.OutstandingBlobs + (_copy?.Positions.OutstandingBlobs ?? 0);
    public int FailedBlobs => _log.FailedBlobs + (_copy?.Positions.FailedBlobs ?? 0);
    public long BlobGap => _log.Committed - Durable;

    /// <summary>
    /// A new subscription: the first starts from the recovered cursor, every later one from what is durable now (a
    /// copy re-copies from its durable key). Null for an epoch not newer than the current one (a late or repeated ask).
    /// </summary>
    public Watermark.ResumeFrom? BeginEpoch(long epoch)
    {
        if (epoch <= _epoch) return null;
        if (_epoch != long.MinValue)
        {
            _log = _copy is null ? _log.Restart() : new DurabilityWatermark(PersistedCursor);
            _copy?.Restart();
        }
        _epoch = epoch;
        return new Watermark.ResumeFrom(_epoch, _log.StartedFrom, _copy?.CopyStart ?? 0, _copy?.DurableKey);
    }

    /// <summary>Takes one report of the receiver or the saver; reports of other epochs change nothing. False: ignored.</summary>
    public bool Handle(Watermark.ICommand command)
    {
        switch (command)
        {
            case Watermark.Committed c when c.Epoch == _epoch:
                return _log.Commit(c.Sequence, c.BlobsToCome);
            case Watermark.FrameCommitted f when f.Epoch == _epoch:
                var withBlobs = false;
                foreach (var c in f.WithBlobs) withBlobs |= _log.Commit(c.Sequence, c.BlobsToCome);
                return _log.Commit(f.UpToSequence, []) | withBlobs;
            case Watermark.BlobDurable d when d.Epoch == _epoch:
                if (d.InCopy) _copy?.BlobDurable(d.Position, d.FileId);
                else _log.BlobDurable(d.Position, d.FileId);
                return true;
            case Watermark.BlobFailed f when f.Epoch == _epoch:
                if (f.InCopy) _copy?.Positions.BlobFailed(f.Position, f.FileId);
                else _log.BlobFailed(f.Position, f.FileId);
                return true;
            case Watermark.CopyBegan b when b.Epoch == _epoch:
                if (_copy is null || _copy.CopyStart != b.CopyStart) _copy = new CopyWatermark(b.CopyStart, []);
                return true;
            case Watermark.CopyCommitted c when c.Epoch == _epoch && _copy is not null:
                _copy.Committed(c.Position, c.Key, c.BlobsToCome);
                return true;
            case Watermark.CopyFrameCommitted c when c.Epoch == _epoch && _copy is not null:
                _copy.Committed(c.Records);
                return true;
            case Watermark.CopyDone d when d.Epoch == _epoch && _copy is not null:
                _copy.LastPosition = d.LastPosition;
                // The audit log follows from where the copy began.
                _log = new DurabilityWatermark(_copy.CopyStart);
                return true;
            default:
                return false;
        }
    }

    /// <summary>A copy whose every record is durable ends: the cursor may now move to its start. True once, when it ends.</summary>
    public bool SettleCopy()
    {
        if (_copy is not { Complete: true }) return false;
        _copy = null;
        return true;
    }

    /// <summary>What to tell the receiver (for the receipt to the peer) when committed or durable moved since last told.</summary>
    public Watermark.Advanced? TakeAdvanced()
    {
        var now = (_log.Committed, Durable);
        if (now == _lastReported) return null;
        _lastReported = now;
        return new Watermark.Advanced(_epoch, now.Committed, now.Durable);
    }

    /// <summary>
    /// The next write for the cursor store, if any is due and none is in flight (a burst of commits costs one journal
    /// write, not one each). The cursor never moves ahead of <see cref="Durable"/>, and not at all during a copy.
    /// </summary>
    public CursorStore.ICommand? TakePersist()
    {
        if (_persistInFlight) return null;
        if (_copy is not null)
        {
            if (_copy.DurableKey.Length == 0 || (PersistedCopyKey is not null && _copy.DurableKey.AsSpan().SequenceEqual(PersistedCopyKey))) return null;
            _persistInFlight = true;
            return new CursorStore.AdvanceCopy(_copy.CopyStart, _copy.DurableKey);
        }
        if (_log.Durable <= PersistedCursor && PersistedCopyKey is null) return null;
        _persistInFlight = true;
        return new CursorStore.Advance(_log.Durable);
    }

    public void Persisted(long sequence)
    {
        PersistedCursor = Math.Max(PersistedCursor, sequence);
        PersistedCopyKey = null;
        _persistInFlight = false;
    }

    public void CopyPersisted(byte[] afterKey)
    {
        PersistedCopyKey = afterKey;
        _persistInFlight = false;
    }

    /// <summary>
    /// A cursor store restarted after a journal failure recovered what it had; nothing is lost meanwhile because the
    /// in-memory watermark keeps the newer durable point and sends it again.
    /// </summary>
    public void StoreRecovered(long sequence, long copyStart, byte[]? copyAfterKey)
    {
        PersistedCursor = Math.Max(PersistedCursor, sequence);
        PersistedCopyKey = copyStart > 0 ? copyAfterKey ?? [] : null;
        _persistInFlight = false;
    }

    /// <summary>The cursor store stopped: whatever was in flight to it is gone.</summary>
    public void StoreLost() => _persistInFlight = false;
}

/// <summary>
/// A copy in progress on the follower: its own watermark over copy positions, and the record keys those positions
/// stand for, so the durable key is that of the highest position below every copied blob still due.
/// </summary>
public sealed class CopyWatermark(long copyStart, byte[] durableKey)
{
    private readonly SortedDictionary<long, byte[]> _keys = new();

    public long CopyStart { get; } = copyStart;
    public DurabilityWatermark Positions { get; private set; } = new(0);

    /// <summary>The copy position of its last record, once the copy said it was done.</summary>
    public long? LastPosition { get; set; }

    /// <summary>Every record up to this key is durable here.</summary>
    public byte[] DurableKey { get; private set; } = durableKey;

    public bool Complete => LastPosition is { } last && Positions.Durable >= last;

    public void Committed(long position, byte[] key, IReadOnlyCollection<string> blobs)
    {
        if (Positions.Commit(position, blobs)) _keys[position] = key;
        Settle();
    }

    /// <summary>A copy frame's records, settled once: the durable key moves as if each had come alone.</summary>
    public void Committed(IReadOnlyList<Watermark.CopyCommitted> records)
    {
        foreach (var record in records)
            if (Positions.Commit(record.Position, record.BlobsToCome)) _keys[record.Position] = record.Key;
        Settle();
    }

    public void BlobDurable(long position, string fileId)
    {
        Positions.BlobDurable(position, fileId);
        Settle();
    }

    private void Settle()
    {
        var durable = Positions.Durable;
        while (_keys.Count > 0 && _keys.First() is var (position, key) && position <= durable)
        {
            DurableKey = key;
            _keys.Remove(position);
        }
    }

    /// <summary>A new subscription re-copies from the durable key; positions start again.</summary>
    public void Restart()
    {
        Positions = new DurabilityWatermark(0);
        _keys.Clear();
        LastPosition = null;
    }
}
