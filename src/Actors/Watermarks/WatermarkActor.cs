using Akka.Actor;
using Akka.Event;
using static ClusterNode.Actors.Watermarks.Watermark;

namespace ClusterNode.Actors.Watermarks;

/// <summary>
/// Drives one peer's <see cref="DurabilityWatermark"/>. It starts from the cursor its cursor store
/// recovers (never 0 unless nothing was ever persisted), ignores reports of earlier subscriptions, and keeps at
/// most one cursor write in flight, sending the newest durable point when the previous write is done, so
/// a burst of commits costs one journal write, not one each.
///
/// During a copy (the peer sends its records because its log no longer reaches back to our cursor) a second
/// watermark runs over the copy's ordinals; only the key of the highest record below every blob still due is
/// persisted, and the cursor itself moves to the copy's start only once every copied blob is durable.
/// </summary>
internal sealed class WatermarkActor : ReceiveActor, IWithStash, IWithTimers
{
    private sealed record RecreateCursorStore
    {
        public static readonly RecreateCursorStore Instance = new();
    }

    /// <summary>A copy in progress: its own watermark over ordinals, and the record keys those ordinals stand for.</summary>
    private sealed class CopyState(long copyStart, byte[] durableKey)
    {
        private readonly SortedDictionary<long, byte[]> _keys = new();
        public long CopyStart { get; } = copyStart;
        public DurabilityWatermark Ordinals { get; private set; } = new(0);
        public long? FinalOrdinal { get; set; }
        /// <summary>Every record up to this key is durable here.</summary>
        public byte[] DurableKey { get; private set; } = durableKey;
        public bool Complete => FinalOrdinal is { } final && Ordinals.Durable >= final;

        public void Committed(long ordinal, byte[] key, IReadOnlyList<string> blobs)
        {
            if (Ordinals.Commit(ordinal, blobs)) _keys[ordinal] = key;
            Settle();
        }

        public void Settle()
        {
            var durable = Ordinals.Durable;
            while (_keys.Count > 0 && _keys.First() is var (ordinal, key) && ordinal <= durable)
            {
                DurableKey = key;
                _keys.Remove(ordinal);
            }
        }

        /// <summary>A new subscription re-copies from the durable key; ordinals start again.</summary>
        public void Restart()
        {
            Ordinals = new DurabilityWatermark(0);
            _keys.Clear();
            FinalOrdinal = null;
        }
    }

    private readonly string _peerNodeId;
    private readonly Props _cursorStoreProps;
    private readonly TimeSpan _restartBackoff;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IActorRef _cursorStore = ActorRefs.Nobody;
    private DurabilityWatermark _watermark = new(0);
    private CopyState? _copy;
    private long _epoch = long.MinValue;
    private long _persisted;
    private byte[]? _persistedCopyKey; // not null while the cursor store holds a copy's progress
    private bool _persistInFlight;
    private (long Committed, long Durable) _lastReported = (-1, -1);

    public WatermarkActor(string peerNodeId, Props cursorStoreProps, TimeSpan restartBackoff)
    {
        _peerNodeId = peerNodeId;
        _cursorStoreProps = cursorStoreProps;
        _restartBackoff = restartBackoff;
        Recovering();
    }

    public IStash Stash { get; set; } = null!;
    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart() => StartCursorStore();

    private void StartCursorStore()
    {
        _cursorStore = Context.ActorOf(_cursorStoreProps, "cursor");
        Context.Watch(_cursorStore);
    }

    /// <summary>Until the cursor is known nothing can be decided: everything waits in the stash.</summary>
    private void Recovering()
    {
        Receive<CursorStore.Recovered>(recovered =>
        {
            _persisted = recovered.Sequence;
            _watermark = new DurabilityWatermark(recovered.Sequence);
            if (recovered.CopyStart > 0)
            {
                _copy = new CopyState(recovered.CopyStart, recovered.CopyAfterKey ?? []);
                _persistedCopyKey = _copy.DurableKey;
            }
            _log.Info("watermark of peer {0} starts from persisted cursor {1}{2}", _peerNodeId, recovered.Sequence,
                _copy is null ? "" : $", resuming a copy that began at {_copy.CopyStart}");
            Become(Active);
            Stash.UnstashAll();
        });
        Receive<Terminated>(OnCursorStoreTerminated);
        Receive<RecreateCursorStore>(_ => StartCursorStore());
        ReceiveAny(_ => Stash.Stash());
    }

    private void Active()
    {
        Receive<BeginEpoch>(begin =>
        {
            if (begin.Epoch <= _epoch) return;
            // The first epoch starts from the recovered cursor; every later one from what is durable now.
            if (_epoch != long.MinValue)
            {
                _watermark = _copy is null ? _watermark.Restart() : new DurabilityWatermark(_persisted);
                _copy?.Restart();
            }
            _epoch = begin.Epoch;
            Sender.Tell(new ResumeFrom(_epoch, _watermark.StartedFrom, _copy?.CopyStart ?? 0, _copy?.DurableKey));
        });
        Receive<Committed>(committed =>
        {
            if (committed.Epoch != _epoch) return;
            if (!_watermark.Commit(committed.Sequence, committed.BlobsToCome))
                _log.Warning("peer {0}: sequence {1} committed again at or below {2}; ignored", _peerNodeId, committed.Sequence, _watermark.Committed);
            Moved();
        });
        Receive<BlobDurable>(durable =>
        {
            if (durable.Epoch != _epoch) return;
            if (durable.InCopy)
            {
                _copy?.Ordinals.BlobDurable(durable.Sequence, durable.FileId);
                _copy?.Settle();
            }
            else
            {
                _watermark.BlobDurable(durable.Sequence, durable.FileId);
            }
            Moved();
        });
        Receive<BlobFailed>(failed =>
        {
            if (failed.Epoch != _epoch) return;
            if (failed.InCopy) _copy?.Ordinals.BlobFailed(failed.Sequence, failed.FileId);
            else _watermark.BlobFailed(failed.Sequence, failed.FileId);
            _log.Warning("peer {0}: blob {1} of {2} {3} failed ({4}); watermark held", _peerNodeId, failed.FileId,
                failed.InCopy ? "copied record" : "sequence", failed.Sequence, failed.Reason);
        });
        Receive<CopyBegan>(began =>
        {
            if (began.Epoch != _epoch) return;
            if (_copy is null || _copy.CopyStart != began.CopyStart)
            {
                _log.Info("peer {0} copies its records to this node; its log follows from {1}", _peerNodeId, began.CopyStart);
                _copy = new CopyState(began.CopyStart, []);
            }
        });
        Receive<CopyCommitted>(committed =>
        {
            if (committed.Epoch != _epoch || _copy is null) return;
            _copy.Committed(committed.Ordinal, committed.Key, committed.BlobsToCome);
            Moved();
        });
        Receive<CopyDone>(done =>
        {
            if (done.Epoch != _epoch || _copy is null) return;
            _copy.FinalOrdinal = done.FinalOrdinal;
            // The audit log follows from where the copy began.
            _watermark = new DurabilityWatermark(_copy.CopyStart);
            Moved();
        });
        Receive<CursorStore.Persisted>(persisted =>
        {
            _persisted = Math.Max(_persisted, persisted.Sequence);
            _persistedCopyKey = null;
            _persistInFlight = false;
            ForwardDurable();
        });
        Receive<CursorStore.CopyPersisted>(persisted =>
        {
            _persistedCopyKey = persisted.AfterKey;
            _persistInFlight = false;
            ForwardDurable();
        });
        // A cursor store restarted after a journal failure recovers what it had; nothing is lost meanwhile
        // because the in-memory watermark keeps the newer durable point and sends it again.
        Receive<CursorStore.Recovered>(recovered =>
        {
            _persisted = Math.Max(_persisted, recovered.Sequence);
            _persistedCopyKey = recovered.CopyStart > 0 ? recovered.CopyAfterKey ?? [] : null;
            _persistInFlight = false;
            ForwardDurable();
        });
        Receive<GetStatus>(_ => Sender.Tell(new WatermarkStatus(
            _peerNodeId, _watermark.Committed, _watermark.Durable, _persisted,
            _watermark.OutstandingBlobs + (_copy?.Ordinals.OutstandingBlobs ?? 0),
            _watermark.FailedBlobs + (_copy?.Ordinals.FailedBlobs ?? 0),
            _watermark.BlobGap, _copy is not null, _copy is null ? null : _persistedCopyKey)));
        Receive<Terminated>(OnCursorStoreTerminated);
        Receive<RecreateCursorStore>(_ => StartCursorStore());
    }

    private void Moved()
    {
        if (_copy is { Complete: true })
        {
            _log.Info("copy from peer {0} is durable; streaming its log from {1}", _peerNodeId, _copy.CopyStart);
            _copy = null;
        }
        var now = (_watermark.Committed, _watermark.Durable);
        if (now != _lastReported)
        {
            _lastReported = now;
            Context.Parent.Tell(new Advanced(_epoch, now.Committed, now.Durable));
        }
        ForwardDurable();
    }

    private void ForwardDurable()
    {
        if (_persistInFlight || _cursorStore.IsNobody()) return;
        if (_copy is not null)
        {
            // The cursor waits for the whole copy; meanwhile only the copy's durable key is kept.
            if (_copy.DurableKey.Length == 0 || (_persistedCopyKey is not null && _copy.DurableKey.AsSpan().SequenceEqual(_persistedCopyKey))) return;
            _persistInFlight = true;
            _cursorStore.Tell(new CursorStore.AdvanceCopy(_copy.CopyStart, _copy.DurableKey));
            return;
        }
        if (_watermark.Durable <= _persisted && _persistedCopyKey is null) return;
        _persistInFlight = true;
        _cursorStore.Tell(new CursorStore.Advance(_watermark.Durable));
    }

    private void OnCursorStoreTerminated(Terminated terminated)
    {
        if (!terminated.ActorRef.Equals(_cursorStore)) return;
        // A persistent actor stops itself when the journal fails a write; start a fresh one after a pause.
        _log.Warning("cursor store of peer {0} stopped (journal failure?); restarting it in {1}", _peerNodeId, _restartBackoff);
        _cursorStore = ActorRefs.Nobody;
        _persistInFlight = false;
        Timers.StartSingleTimer(RecreateCursorStore.Instance, RecreateCursorStore.Instance, _restartBackoff);
    }
}
