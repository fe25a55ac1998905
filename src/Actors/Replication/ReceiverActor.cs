using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using ClusterNode.Actors.Serialization;
using ClusterNode.Actors.Streams;
using ClusterNode.Actors.Telemetry;
using ClusterNode.Actors.Watermarks;
using ClusterNode.Persistence.Records;
using static ClusterNode.Actors.Replication.Receiver;

namespace ClusterNode.Actors.Replication;

/// <summary>
/// Receives one peer's transactions: the glue around <see cref="IncomingStream"/>, which decides what each message
/// means. Runs on the I/O dispatcher because it commits to LMDB. It never waits for a blob: a record is committed
/// (visible) as soon as its frame arrives, its blobs follow to the saver, and the watermark alone decides how far the
/// cursor may go. Anything wrong with the stream (a malformed frame, a gap, a chunk out of order, a failed blob save,
/// silence) ends the subscription and starts a new one from the durable watermark. Frames that wait in the mailbox
/// together are applied in one transaction (one sync); the watermark hears of each only after that commit.
///
/// <para>Behaviours: <see cref="Subscribing"/> (asked the watermark where to resume), <see cref="Streaming"/> and
/// <see cref="Copying"/> (taking the peer's log or its copy), <see cref="BackingOff"/> (the stream was given up; a new
/// subscription begins after the back-off).</para>
/// </summary>
internal sealed class ReceiverActor : ReceiveActor, IWithTimers
{
    private sealed record Resubscribe
    {
        public static readonly Resubscribe Instance = new();
    }

    private sealed record CheckIdle
    {
        public static readonly CheckIdle Instance = new();
    }

    private sealed record SendReceipt
    {
        public static readonly SendReceipt Instance = new();
    }

    private sealed record PollAwaitedBlobs
    {
        public static readonly PollAwaitedBlobs Instance = new();
    }

    /// <summary>Told to itself when a frame is queued: every frame already in the mailbox is queued before it arrives.</summary>
    private sealed record ApplyQueued
    {
        public static readonly ApplyQueued Instance = new();
    }

    private sealed record CheckStall
    {
        public static readonly CheckStall Instance = new();
    }

    /// <summary>
    /// A leg whose durable watermark has not moved this long while it has work logs one line saying why; checked every
    /// <see cref="StallCheckInterval"/>, so the line comes within 5 s of the last progress.
    /// </summary>
    private static readonly TimeSpan StalledAfter = TimeSpan.FromSeconds(3);

    private static readonly TimeSpan StallCheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Frames applied in one transaction at most (one sync for them all). The window bounds their bytes already; this
    /// bounds how long one transaction holds the store's writer.
    /// </summary>
    private const int MaxFramesPerTransaction = 16;

    /// <summary>Receipts only inform the peer (status, lag); one per interval is plenty.</summary>
    private static readonly TimeSpan ReceiptInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// A full store stays full until an operator makes room: re-subscribing this many back-offs apart instead of at
    /// every one spares the peer a stream re-sent for nothing while the status says why.
    /// </summary>
    private const int StoreFullBackoffFactor = 10;

    private static readonly IReadOnlyCollection<string> NoBlobs = [];

    private readonly string _peerNodeId;
    private readonly RecordStore _store;
    private readonly ReplicationSettings _settings;
    private readonly IActorRef _watermark;
    private readonly IActorRef _saver;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly AwaitedBlobs _awaited;
    private readonly Stopwatch _sinceHeard = Stopwatch.StartNew();
    private readonly LegMetrics _metrics;
    private readonly LegStall _stall = new(StalledAfter);

    /// <summary>Frames of this epoch received and not yet applied, in arrival order, with their cost in the window.</summary>
    private readonly List<(object Frame, long CostBytes)> _queuedFrames = new();
    private Address _peerAddress;
    private IActorRef _upstream = ActorRefs.Nobody;
    private IncomingStream _stream = IncomingStream.Begin(0, 0);
    private long _maxUncreditedBytes;
    private long _peerLastSequence;
    private long _receipt = -1;
    private long _recordsReceived;
    private long _resubscriptions;
    private string? _lastProblem;
    private int _refusedInARow;

    public ReceiverActor(string peerNodeId, Address peerAddress, RecordStore store, ReplicationSettings settings, string? journalPluginId, string? snapshotPluginId)
    {
        _peerNodeId = peerNodeId;
        _peerAddress = peerAddress;
        _store = store;
        _settings = settings;
        _awaited = new AwaitedBlobs(store, repairAfter: settings.PeerCheckInterval * 2);
        _metrics = NodeTelemetry.Of(Context.System).Leg(peerNodeId);
        var cursorStore = CursorStore.Props(peerNodeId, settings.CursorSnapshotEvery, journalPluginId, snapshotPluginId);
        _watermark = Context.ActorOf(Watermark.Props(peerNodeId, cursorStore, settings.ResubscribeBackoff), "watermark");
        var saver = BlobSaver.Props(store.Blobs, _watermark, settings.BlobDurability, settings.IoDispatcher);
        _saver = Context.ActorOf(settings.Faults.Wrap(saver, _watermark), "blob-saver");
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>
    /// A child that crashes (the saver on an unexpected disk error, say) loses what it held in memory: restart it
    /// and start the stream over from the durable watermark, so nothing it dropped is waited for in vain.
    /// </summary>
    protected override SupervisorStrategy SupervisorStrategy()
    {
        var self = Self;
        return new OneForOneStrategy(error =>
        {
            self.Tell(new ChildFailed(error.Message));
            return Directive.Restart;
        });
    }

    private sealed record ChildFailed(string Reason);

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer(CheckIdle.Instance, CheckIdle.Instance, Max(TimeSpan.FromMilliseconds(100), _settings.IdleTimeout / 4));
        Timers.StartPeriodicTimer(CheckStall.Instance, CheckStall.Instance, StallCheckInterval);
        BeginSubscribing();
    }

    // ---------------------------------------------------------------- behaviours

    /// <summary>A new epoch: the watermark says where to resume, then the peer is asked to stream from there.</summary>
    private void Subscribing()
    {
        Receive<Watermark.ResumeFrom>(resume =>
        {
            if (resume.Epoch != _stream.Epoch) return;
            _stream = IncomingStream.Begin(resume.Epoch, resume.Sequence);
            _stall.Watermark(resume.Sequence, resume.Sequence, Stopwatch.GetTimestamp());
            _sinceHeard.Restart();
            Context.ActorSelection(HubPath(_peerAddress)).Tell(
                new Subscribe(_store.NodeId, resume.Epoch, resume.Sequence + 1, _settings.WindowBytes, Self, resume.CopyStart, resume.CopyAfterKey,
                    _settings.ChunkSizeBytes, _settings.MaxFramePayloadBytes, _store.OwnWritesMayBeLostAfter, _store.OwnWritesMayBeLostBefore));
            _log.Info("subscribed to {0} at {1} from sequence {2}{3} (epoch {4})", _peerNodeId, _peerAddress, resume.Sequence + 1,
                resume.CopyStart > 0 ? $", resuming the copy that began at {resume.CopyStart}" : "", resume.Epoch);
            Become(Streaming);
        });
        Receive<IReplicationWireMessage>(_ => { }); // of an abandoned epoch
        // A watermark that crashed lost the question: ask again rather than wait for ever.
        Receive<ChildFailed>(failed => GiveUp(LegProblem.ChildFailed, $"a child failed: {failed.Reason}", immediately: false));
        Receive<CheckIdle>(_ =>
        {
            if (_sinceHeard.Elapsed > _settings.IdleTimeout) GiveUp(LegProblem.Silence, $"the watermark did not say where to resume for {_sinceHeard.Elapsed.TotalSeconds:F1}s", immediately: true);
        });
        Common();
    }

    /// <summary>Taking the peer's log: record frames and their chunks; a copy frame first in an epoch begins a copy.</summary>
    private void Streaming()
    {
        StreamInput();
        Common();
    }

    /// <summary>Taking the peer's records in key order, because its log no longer reaches back to this node's cursor.</summary>
    private void Copying()
    {
        StreamInput();
        Common();
    }

    /// <summary>The stream was given up; everything of it is ignored until the new subscription begins.</summary>
    private void BackingOff()
    {
        Receive<Resubscribe>(_ => BeginSubscribing());
        Receive<IReplicationWireMessage>(_ => { });
        Common();
    }

    private void StreamInput()
    {
        Receive<SubscribeRefused>(refused =>
        {
            if (refused.Epoch == _stream.Epoch && _upstream.IsNobody()) OnRefused(refused.Reason);
        });
        Receive<RecordFrame>(frame =>
        {
            if (frame.Epoch != _stream.Epoch) return;
            Heard(frame.CostBytes);
            Queue(frame, frame.CostBytes);
        });
        Receive<CopyFrame>(frame =>
        {
            if (frame.Epoch != _stream.Epoch) return;
            Heard(frame.CostBytes);
            Queue(frame, frame.CostBytes);
        });
        Receive<ApplyQueued>(_ => ApplyQueuedFrames());
        Receive<BlobChunk>(chunk =>
        {
            if (chunk.Epoch != _stream.Epoch) return;
            Heard(chunk.CostBytes);
            // A chunk follows its frame: the frames before it are applied first.
            if (ApplyQueuedFrames()) OnChunk(chunk);
        });
        Receive<BlobSaver.ChunkWritten>(written =>
        {
            if (written.Epoch == _stream.Epoch) Handled(written.CostBytes);
        });
        Receive<BlobSaver.SaveFailed>(failed =>
        {
            SaveFailed(failed);
            if (failed.Epoch == _stream.Epoch) GiveUp(LegProblem.BlobSaveFailed, $"blob {failed.FileId} of position {failed.Position} failed: {failed.Reason}", immediately: false);
        });
        Receive<ChildFailed>(failed => GiveUp(LegProblem.ChildFailed, $"a child failed: {failed.Reason}", immediately: false));
        Receive<Terminated>(terminated =>
        {
            if (terminated.ActorRef.Equals(_upstream)) GiveUp(LegProblem.SenderStopped, "the peer's sender stopped", immediately: false);
        });
        Receive<PeerMoved>(moved =>
        {
            _peerAddress = moved.Address;
            GiveUp(LegProblem.PeerMoved, $"peer now at {moved.Address}", immediately: true);
        });
        Receive<CheckIdle>(_ =>
        {
            // Waiting on our own saver is not silence from the peer.
            if (_stream.UnhandledBytes == 0 && _sinceHeard.Elapsed > _settings.IdleTimeout)
                GiveUp(LegProblem.Silence, $"nothing heard for {_sinceHeard.Elapsed.TotalSeconds:F1}s", immediately: true);
        });
        Receive<PeerSeen>(seen =>
        {
            SeePeer(seen);
            // The peer answers but its stream went quiet (a subscription or credit lost while the connection was
            // down): start over now rather than after the idle timeout, so a healed network resumes at once.
            if (_stream.UnhandledBytes == 0 && _sinceHeard.Elapsed > QuietStreamAfter)
                GiveUp(LegProblem.Silence, $"the peer answers but its stream has been quiet for {_sinceHeard.Elapsed.TotalSeconds:F1}s", immediately: true);
        });
    }

    /// <summary>What every behaviour handles the same way.</summary>
    private void Common()
    {
        Receive<BlobSaver.ChunkWritten>(_ => { }); // of an abandoned epoch
        Receive<BlobSaver.SaveFailed>(SaveFailed);
        Receive<ChildFailed>(_ => { }); // the stream is being started over anyway
        Receive<PeerMoved>(moved => _peerAddress = moved.Address);
        Receive<PeerSeen>(SeePeer);
        Receive<CheckIdle>(_ => { });
        Receive<Terminated>(_ => { });
        Receive<Resubscribe>(_ => { });
        Receive<ApplyQueued>(_ => { }); // its frames went with the epoch they belonged to
        Receive<Watermark.ResumeFrom>(_ => { });
        Receive<Watermark.CursorPersisted>(persisted =>
        {
            _metrics.Persisted(persisted.Sequence);
            _metrics.Lag.Persisted(persisted.Sequence);
            Context.Parent.Tell(new ReplicationHub.PeerCursorPersisted(_peerNodeId, persisted.Sequence));
        });
        Receive<Watermark.PeerLogStartedOver>(over => GiveUp(LegProblem.PeerRestarted, $"the peer is a new incarnation ({over.IncarnationId}): its log is taken from the start", immediately: true));
        Receive<CheckStall>(_ => OnCheckStall());
        Receive<Watermark.Advanced>(advanced =>
        {
            _stall.Watermark(advanced.Committed, advanced.Durable, Stopwatch.GetTimestamp());
            if (advanced.Epoch != _stream.Epoch) return;
            var receipt = Math.Min(advanced.Committed, advanced.Durable);
            if (receipt == _receipt) return;
            _receipt = receipt;
            if (!Timers.IsTimerActive(SendReceipt.Instance)) Timers.StartSingleTimer(SendReceipt.Instance, SendReceipt.Instance, ReceiptInterval);
        });
        Receive<SendReceipt>(_ => _upstream.Tell(new Receipt(_stream.Epoch, _receipt)));
        Receive<PollAwaitedBlobs>(_ => PollAwaited());
        Receive<GetStatus>(_ => OnGetStatus());
    }

    // ---------------------------------------------------------------- stream input

    /// <summary>
    /// Frames wait in a queue until the <see cref="ApplyQueued"/> told now comes round: every frame that arrived
    /// meanwhile is then applied in the same transaction, one sync for them all.
    /// </summary>
    private void Queue(object frame, long costBytes)
    {
        TrackUpstream();
        _queuedFrames.Add((frame, costBytes));
        if (_queuedFrames.Count == 1) Self.Tell(ApplyQueued.Instance);
        else if (_queuedFrames.Count >= MaxFramesPerTransaction) ApplyQueuedFrames();
    }

    /// <summary>
    /// Applies the queued frames that continue the stream, in one transaction, then tells the watermark what each
    /// frame committed, in order, only after the commit (the durability point). A refused frame is handled after the
    /// frames before it are applied. False when the stream was given up.
    /// </summary>
    private bool ApplyQueuedFrames()
    {
        if (_queuedFrames.Count == 0) return true;
        var frames = _queuedFrames.Select(q => q.Frame).ToArray();
        var costs = _queuedFrames.Select(q => q.CostBytes).ToArray();
        _queuedFrames.Clear();
        var (accepted, refused) = _stream.CheckGroup(frames, _settings.MaxFramePayloadBytes);
        if (accepted.Count > 0 && !Apply(accepted, costs)) return false;
        switch (refused)
        {
            case { LostInTransit: true } gap:
                // Lost, duplicated or reordered in transit: nothing of it is applied, the leg restarts from durable.
                GiveUp(LegProblem.LostInTransit, gap.Reason, immediately: true);
                return false;
            case not null:
                Refuse(refused.Reason);
                return false;
        }
        return true;
    }

    /// <summary>The accepted frames (with the costs of the queue, in the same order) in one transaction.</summary>
    private bool Apply(IReadOnlyList<FrameAccepted> frames, long[] costs)
    {
        var records = new List<StoredRecord>(frames.Sum(f => f.Records.Count));
        foreach (var frame in frames)
            foreach (var replicated in frame.Records) records.Add(replicated.Record);
        _recordsReceived += records.Count;
        _metrics.ReceivedRecords(records.Count);
        IReadOnlyList<ApplyOutcome> outcomes;
        try
        {
            outcomes = records.Count == 0 ? [] : _store.ApplyReplicated(records);
        }
        catch (StoreFullException e)
        {
            var backoff = _settings.ResubscribeBackoff * StoreFullBackoffFactor;
            GiveUp(LegProblem.StoreFull, $"applying a frame failed, trying again every {backoff.TotalSeconds:0.#}s: {e.Message}", immediately: false, backoff);
            return false;
        }
        catch (Exception e)
        {
            GiveUp(LegProblem.ApplyFailed, $"applying a frame failed: {e.Message}", immediately: false);
            return false;
        }
        var first = 0;
        for (var f = 0; f < frames.Count; f++)
        {
            var frame = frames[f];
            var blobsToSave = new IReadOnlyCollection<string>[frame.Records.Count];
            for (var i = 0; i < blobsToSave.Length; i++)
            {
                var save = outcomes[first + i].BlobsToSave;
                blobsToSave[i] = save.Count == 0 ? NoBlobs : save.Select(b => b.FileId).ToArray();
            }
            first += blobsToSave.Length;
            var applied = _stream.Applied(frame, blobsToSave, costs[f]);
            _stream = applied.Next;
            foreach (var command in applied.ToWatermark) _watermark.Tell(command);
            foreach (var awaited in applied.Awaited) AwaitElsewhere(awaited);
            if (frame.CopyStart is null) _peerLastSequence = Math.Max(_peerLastSequence, frame.UpToSequence);
            else if (frame.CopyDone) _peerLastSequence = Math.Max(_peerLastSequence, frame.CopyStart.Value);
        }
        PublishPeerLog();
        // Credit is cumulative: one message for the group.
        _upstream.Tell(new Credit(_stream.Epoch, _stream.HandledBytes));
        Become(_stream.Copying ? Copying : Streaming);
        return true;
    }

    private void OnChunk(BlobChunk chunk)
    {
        switch (_stream.Check(chunk, _settings.ChunkSizeBytes))
        {
            case ChunkRefused { LostInTransit: true } gap:
                GiveUp(LegProblem.LostInTransit, gap.Reason, immediately: true);
                return;
            case ChunkRefused refused:
                Refuse(refused.Reason);
                return;
            case ChunkAccepted { Save: true } accepted:
                _stream = accepted.Next;
                _saver.Tell(new BlobSaver.SaveChunk(_stream.Epoch, chunk.Position, accepted.Blob.Blob, chunk.Offset, chunk.Bytes, chunk.CostBytes, accepted.Blob.InCopy));
                return;
            case ChunkAccepted accepted:
                _stream = accepted.Next;
                Handled(chunk.CostBytes);
                return;
        }
    }

    private void Heard(long costBytes)
    {
        _sinceHeard.Restart();
        _metrics.Received(costBytes);
        _stall.Received(Stopwatch.GetTimestamp());
        _stream = _stream.Heard(costBytes);
        _maxUncreditedBytes = Math.Max(_maxUncreditedBytes, _stream.UnhandledBytes);
    }

    private void Handled(long costBytes)
    {
        _stream = _stream.Handled(costBytes);
        _upstream.Tell(new Credit(_stream.Epoch, _stream.HandledBytes));
    }

    private void TrackUpstream()
    {
        if (Sender.Equals(_upstream)) return;
        _refusedInARow = 0; // the peer serves this node
        if (!_upstream.IsNobody()) Context.Unwatch(_upstream);
        _upstream = Sender;
        Context.Watch(_upstream);
    }

    private void SeePeer(PeerSeen seen)
    {
        _peerLastSequence = Math.Max(_peerLastSequence, seen.LastSequence);
        PublishPeerLog();
        if (seen.IncarnationId.Length > 0) _watermark.Tell(new Watermark.PeerIdentified(seen.IncarnationId, seen.LogWentBack));
    }

    /// <summary>
    /// A live stream sends at least a heartbeat a second; this much silence from a peer that answers means the stream
    /// is gone. Not much less than the idle timeout: a sender starved of I/O threads on a busy node is not gone.
    /// </summary>
    private TimeSpan QuietStreamAfter => Max(_settings.HeartbeatInterval * 3, _settings.IdleTimeout / 3);

    // ---------------------------------------------------------------- giving up and starting over

    /// <summary>Bad input from the network: say what was wrong, apply nothing of it, and start over from the watermark.</summary>
    private void Refuse(string problem)
    {
        _log.Error("refused input from peer {0}: {1}", _peerNodeId, problem);
        GiveUp(LegProblem.FrameRefused, problem, immediately: false);
    }

    /// <summary>Stops taking this epoch's input at once; the new epoch begins after the back-off (or at once).</summary>
    private void GiveUp(LegProblem problem, string reason, bool immediately, TimeSpan? backoff = null)
    {
        _queuedFrames.Clear(); // nothing of them was applied: the new subscription brings them again
        _lastProblem = reason;
        _metrics.Resubscribed(problem);
        _stall.GaveUp(problem, reason);
        _log.Warning("re-subscribing to {0}: {1}", _peerNodeId, reason);
        Timers.StartSingleTimer(Resubscribe.Instance, Resubscribe.Instance, immediately ? TimeSpan.Zero : backoff ?? _settings.ResubscribeBackoff);
        Become(BackingOff);
    }

    /// <summary>
    /// The peer does not serve this node yet (it has not learnt that this node is a member: a restarted node is
    /// admitted a moment after it first asks). Ask again soon, a little later each time, with jitter, up to a third of
    /// the idle timeout, so a node that stays refused costs the peer a log line now and then, not a stream of them.
    /// </summary>
    private void OnRefused(string reason)
    {
        if (++_refusedInARow == 1) _log.Warning("{0} refused this node's subscription ({1}); asking again until it serves this node", _peerNodeId, reason);
        _lastProblem = $"the peer refused the subscription: {reason}";
        _metrics.Resubscribed(LegProblem.SubscriptionRefused);
        _stall.GaveUp(LegProblem.SubscriptionRefused, _lastProblem);
        var first = _settings.ResubscribeBackoff / 10;
        var longest = Max(_settings.ResubscribeBackoff, _settings.IdleTimeout / 3);
        var backoff = first * Math.Pow(2, Math.Min(_refusedInARow - 1, 16));
        Timers.StartSingleTimer(Resubscribe.Instance, Resubscribe.Instance, (backoff < longest ? backoff : longest) * (0.75 + Random.Shared.NextDouble() / 2));
        Become(BackingOff);
    }

    private void BeginSubscribing()
    {
        var epoch = NextEpoch(_stream.Epoch);
        _stream = IncomingStream.Begin(epoch, _stream.Committed);
        _resubscriptions++;
        if (!_upstream.IsNobody()) Context.Unwatch(_upstream);
        _upstream = ActorRefs.Nobody;
        _sinceHeard.Restart();
        _saver.Tell(new BlobSaver.ResetEpoch(epoch));
        _watermark.Tell(new Watermark.BeginEpoch(epoch));
        Become(Subscribing);
    }

    /// <summary>Epochs grow across restarts of this node too (they start from the clock), so a peer never confuses them.</summary>
    private static long NextEpoch(long current) => Math.Max(current + 1, DateTime.UtcNow.Ticks);

    // ---------------------------------------------------------------- blobs that come by another stream

    private void AwaitElsewhere(AwaitedBlob awaited)
    {
        _awaited.Add(awaited);
        if (!Timers.IsTimerActive(PollAwaitedBlobs.Instance))
            Timers.StartPeriodicTimer(PollAwaitedBlobs.Instance, PollAwaitedBlobs.Instance, _settings.AwaitedBlobPoll);
    }

    private void PollAwaited()
    {
        try
        {
            foreach (var durable in _awaited.Poll(_stream.Epoch)) _watermark.Tell(durable);
        }
        catch (IOException e)
        {
            _log.Warning("directory fsync for blobs that arrived from elsewhere failed ({0}); will try again", e.Message);
        }
        if (_awaited.Count == 0) Timers.Cancel(PollAwaitedBlobs.Instance);
    }

    // ---------------------------------------------------------------- metrics and stalls

    private void PublishPeerLog()
    {
        _metrics.PeerLog(_peerLastSequence);
        _metrics.Lag.PeerAt(_peerLastSequence, Stopwatch.GetTimestamp());
        _stall.PeerLog(_peerLastSequence);
    }

    /// <summary>Every failed save counts, of this epoch or an abandoned one: each is a save the disk refused.</summary>
    private void SaveFailed(BlobSaver.SaveFailed failed)
    {
        _metrics.BlobSaveFailed();
        _stall.BlobSaveFailed($"blob {failed.FileId} of position {failed.Position}: {failed.Reason}");
    }

    private void OnCheckStall()
    {
        if (_stall.Check(Stopwatch.GetTimestamp()) is not var (line, warning)) return;
        if (warning) _log.Warning("leg from {0} {1}", _peerNodeId, line);
        else _log.Info("leg from {0} {1}", _peerNodeId, line);
    }

    // ---------------------------------------------------------------- status

    private void OnGetStatus()
    {
        // Captured now: the reply is composed after the watermark answers, off this actor's thread.
        var (peer, address, epoch, peerLast, maxUncredited, received, resubscriptions, problem) =
            (_peerNodeId, _peerAddress, _stream.Epoch, _peerLastSequence, _maxUncreditedBytes, _recordsReceived, _resubscriptions, _lastProblem);
        var watermarkStatus = _watermark.Ask<Watermark.WatermarkStatus>(Watermark.GetStatus.Instance, TimeSpan.FromSeconds(5));
        Compose().PipeTo(Sender);

        async Task<PeerStatus> Compose()
        {
            var w = await watermarkStatus;
            return new PeerStatus(peer, address, w.Copying ? "copy" : "streaming", epoch, w.Committed, w.Durable, w.PersistedCursor,
                w.OutstandingBlobs, w.FailedBlobs, w.BlobGap, peerLast, maxUncredited, received, resubscriptions, problem,
                w.PersistedCopyKey is { Length: > 0 } key ? string.Join('/', RecordCodec.ParseKey(key).Table, RecordCodec.ParseKey(key).Id) : null);
        }
    }

    private static ActorPath HubPath(Address address) => new RootActorPath(address) / "user" / ReplicationHub.Name;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
