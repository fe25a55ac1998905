using Akka.Actor;
using Akka.Event;
using static ClusterNode.Actors.Watermarks.Watermark;

namespace ClusterNode.Actors.Watermarks;

/// <summary>
/// Drives one peer's <see cref="DurabilityWatermark"/>. It starts from the cursor its cursor store
/// recovers (never 0 unless nothing was ever persisted), ignores reports of earlier subscriptions, and keeps at
/// most one cursor write in flight, sending the newest durable point when the previous write is done, so
/// a burst of commits costs one journal write, not one each.
/// </summary>
internal sealed class WatermarkActor : ReceiveActor, IWithStash, IWithTimers
{
    private sealed record RecreateCursorStore
    {
        public static readonly RecreateCursorStore Instance = new();
    }

    private readonly string _peerNodeId;
    private readonly Props _cursorStoreProps;
    private readonly TimeSpan _restartBackoff;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IActorRef _cursorStore = ActorRefs.Nobody;
    private DurabilityWatermark _watermark = new(0);
    private long _epoch = long.MinValue;
    private long _persisted;
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
            _log.Info("watermark of peer {0} starts from persisted cursor {1}", _peerNodeId, recovered.Sequence);
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
            if (_epoch != long.MinValue) _watermark = _watermark.Restart();
            _epoch = begin.Epoch;
            Sender.Tell(new ResumeFrom(_epoch, _watermark.StartedFrom));
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
            _watermark.BlobDurable(durable.Sequence, durable.FileId);
            Moved();
        });
        Receive<BlobFailed>(failed =>
        {
            if (failed.Epoch != _epoch) return;
            _watermark.BlobFailed(failed.Sequence, failed.FileId);
            _log.Warning("peer {0}: blob {1} of sequence {2} failed ({3}); watermark held at {4}", _peerNodeId, failed.FileId, failed.Sequence, failed.Reason, _watermark.Durable);
        });
        Receive<CursorStore.Persisted>(persisted =>
        {
            _persisted = Math.Max(_persisted, persisted.Sequence);
            _persistInFlight = false;
            ForwardDurable();
        });
        // A cursor store restarted after a journal failure recovers what it had; nothing is lost meanwhile
        // because the in-memory watermark keeps the newer durable point and sends it again.
        Receive<CursorStore.Recovered>(recovered =>
        {
            _persisted = Math.Max(_persisted, recovered.Sequence);
            _persistInFlight = false;
            ForwardDurable();
        });
        Receive<GetStatus>(_ => Sender.Tell(new WatermarkStatus(
            _peerNodeId, _watermark.Committed, _watermark.Durable, _persisted,
            _watermark.OutstandingBlobs, _watermark.FailedBlobs, _watermark.BlobGap)));
        Receive<Terminated>(OnCursorStoreTerminated);
        Receive<RecreateCursorStore>(_ => StartCursorStore());
    }

    private void Moved()
    {
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
        if (_persistInFlight || _cursorStore.IsNobody() || _watermark.Durable <= _persisted) return;
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
