using Akka.Actor;
using Akka.Event;
using ClusterNode.Actors.Telemetry;
using static ClusterNode.Actors.Watermarks.Watermark;

namespace ClusterNode.Actors.Watermarks;

/// <summary>
/// Drives one peer's <see cref="PeerCursor"/>: gathers commits from the receiver and blob outcomes from the blob
/// saver, reports the watermark to the receiver (for the receipt to the peer) and forwards the durable point to its
/// cursor store, one write in flight at a time. The rules are all in <see cref="PeerCursor"/>; this is the glue.
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
    private readonly LegMetrics _metrics;
    private IActorRef _cursorStore = ActorRefs.Nobody;
    private PeerCursor _cursor = new(0);
    // While a peer incarnation is being recorded no cursor is written: one written after a reset would count the old
    // incarnation's log against the new one's.
    private bool _incarnationInFlight;

    public WatermarkActor(string peerNodeId, Props cursorStoreProps, TimeSpan restartBackoff)
    {
        _peerNodeId = peerNodeId;
        _cursorStoreProps = cursorStoreProps;
        _restartBackoff = restartBackoff;
        _metrics = NodeTelemetry.Of(Context.System).Leg(peerNodeId);
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
            _cursor = new PeerCursor(recovered.Sequence, recovered.CopyStart, recovered.CopyAfterKey, recovered.PeerIncarnation);
            Publish();
            Context.Parent.Tell(new CursorPersisted(recovered.Sequence));
            _log.Info("watermark of peer {0} starts from persisted cursor {1}{2}", _peerNodeId, recovered.Sequence,
                _cursor.CopyStart is { } copyStart ? $", resuming a copy that began at {copyStart}" : "");
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
            if (_cursor.BeginEpoch(begin.Epoch) is { } resume) Sender.Tell(resume);
        });
        Receive<GetStatus>(_ => Sender.Tell(new WatermarkStatus(
            _peerNodeId, _cursor.Committed, _cursor.Durable, _cursor.PersistedCursor, _cursor.OutstandingBlobs, _cursor.FailedBlobs,
            _cursor.BlobGap, _cursor.CopyStart is not null, _cursor.CopyStart is null ? null : _cursor.PersistedCopyKey)));
        Receive<PeerIdentified>(identified =>
        {
            if ((identified.IncarnationId == _cursor.PeerIncarnation && !identified.LogWentBack) || _incarnationInFlight || _cursorStore.IsNobody()) return;
            _incarnationInFlight = true;
            _cursorStore.Tell(new CursorStore.RecordIncarnation(identified.IncarnationId, identified.LogWentBack));
        });
        Receive<CursorStore.IncarnationPersisted>(persisted =>
        {
            _incarnationInFlight = false;
            if (persisted.Reset)
            {
                _log.Warning("peer {0} is a new incarnation ({1}): its log started over, so this node's cursor for it goes back to 0", _peerNodeId, persisted.IncarnationId);
                _cursor = new PeerCursor(0, peerIncarnation: persisted.IncarnationId);
                Publish();
                Context.Parent.Tell(new CursorPersisted(0));
                Context.Parent.Tell(new PeerLogStartedOver(persisted.IncarnationId));
                return;
            }
            _cursor.PeerIncarnation = persisted.IncarnationId;
            Persist();
        });
        Receive<ICommand>(command =>
        {
            var copyStart = _cursor.CopyStart;
            if (!_cursor.Handle(command))
            {
                if (command is Committed committed && committed.Epoch == _cursor.Epoch)
                    _log.Warning("peer {0}: sequence {1} committed again at or below {2}; ignored", _peerNodeId, committed.Sequence, _cursor.Committed);
                else if (command is FrameCommitted frame && frame.Epoch == _cursor.Epoch)
                    _log.Warning("peer {0}: frame up to {1} committed again at or below {2}; ignored", _peerNodeId, frame.UpToSequence, _cursor.Committed);
                return;
            }
            switch (command)
            {
                case BlobFailed failed:
                    Publish();
                    _log.Warning("peer {0}: blob {1} of {2} {3} failed ({4}); watermark held", _peerNodeId, failed.FileId,
                        failed.InCopy ? "copy position" : "sequence", failed.Position, failed.Reason);
                    return;
                case CopyBegan began when copyStart != began.CopyStart:
                    _log.Info("peer {0} copies its records to this node; its log follows from {1}", _peerNodeId, began.CopyStart);
                    break;
            }
            Moved();
        });
        Receive<CursorStore.Persisted>(persisted =>
        {
            _cursor.Persisted(persisted.Sequence);
            Context.Parent.Tell(new CursorPersisted(_cursor.PersistedCursor));
            Persist();
        });
        Receive<CursorStore.CopyPersisted>(persisted =>
        {
            _cursor.CopyPersisted(persisted.AfterKey);
            Persist();
        });
        // A cursor store restarted after a journal failure recovers what it had.
        Receive<CursorStore.Recovered>(recovered =>
        {
            _cursor.PeerIncarnation = recovered.PeerIncarnation;
            _cursor.StoreRecovered(recovered.Sequence, recovered.CopyStart, recovered.CopyAfterKey);
            Persist();
        });
        Receive<Terminated>(OnCursorStoreTerminated);
        Receive<RecreateCursorStore>(_ => StartCursorStore());
    }

    private void Moved()
    {
        if (_cursor.SettleCopy()) _log.Info("copy from peer {0} is durable; streaming its log", _peerNodeId);
        if (_cursor.TakeAdvanced() is { } advanced) Context.Parent.Tell(advanced);
        Publish();
        Persist();
    }

    /// <summary>The leg's metrics read these (three field writes: cheap enough for every command).</summary>
    private void Publish() => _metrics.Watermark(_cursor.Committed, _cursor.Durable, _cursor.OutstandingBlobs);

    private void Persist()
    {
        if (_cursorStore.IsNobody() || _incarnationInFlight) return;
        if (_cursor.TakePersist() is { } write) _cursorStore.Tell(write);
    }

    private void OnCursorStoreTerminated(Terminated terminated)
    {
        if (!terminated.ActorRef.Equals(_cursorStore)) return;
        // A persistent actor stops itself when the journal fails a write; start a fresh one after a pause.
        _log.Warning("cursor store of peer {0} stopped (journal failure?); restarting it in {1}", _peerNodeId, _restartBackoff);
        _cursorStore = ActorRefs.Nobody;
        _incarnationInFlight = false;
        _cursor.StoreLost();
        Timers.StartSingleTimer(RecreateCursorStore.Instance, RecreateCursorStore.Instance, _restartBackoff);
    }
}
