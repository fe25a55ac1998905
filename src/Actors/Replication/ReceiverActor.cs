using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using ClusterNode.Actors.Watermarks;
using ClusterNode.Persistence.Records;
using static ClusterNode.Actors.Replication.Receiver;

namespace ClusterNode.Actors.Replication;

/// <summary>
/// Receives one peer's transactions. Runs on the I/O dispatcher because it commits to LMDB. It never waits
/// for a blob: a record is committed (visible) as soon as its frame arrives, its blobs follow to the saver,
/// and the watermark alone decides how far the cursor may go. Anything wrong with the stream (a malformed
/// frame, a chunk out of order, a failed blob save, silence) ends the subscription and starts a new one
/// from the durable watermark, so the peer sends again whatever is not durable here.
/// </summary>
internal sealed class ReceiverActor : ReceiveActor, IWithTimers
{
    private sealed record Resubscribe(string Reason);

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

    /// <summary>A blob the sender did not have: its bytes reach this node through another stream (its origin's).</summary>
    private sealed record AwaitedBlob(long Epoch, long Sequence, string Table, string Id, BlobRef Blob, bool InCopy);

    /// <summary>Receipts only inform the peer (status, lag); one per interval is plenty.</summary>
    private static readonly TimeSpan ReceiptInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>A blob whose chunks are due next, and whether this node needs its bytes.</summary>
    private sealed class ExpectedBlob(long sequence, BlobRef blob, bool save, bool inCopy)
    {
        public long Sequence { get; } = sequence;
        public BlobRef Blob { get; } = blob;
        public bool Save { get; } = save;
        public bool InCopy { get; } = inCopy;
        public long Received { get; set; }
    }

    private readonly string _peerNodeId;
    private readonly RecordStore _store;
    private readonly ReplicationSettings _settings;
    private readonly IActorRef _watermark;
    private readonly IActorRef _saver;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Queue<ExpectedBlob> _expectedBlobs = new();
    private readonly List<AwaitedBlob> _awaitedBlobs = new();
    private readonly Stopwatch _sinceHeard = Stopwatch.StartNew();
    private Address _peerAddress;
    private IActorRef _upstream = ActorRefs.Nobody;
    private long _epoch;
    private long _committed;
    private long? _copyStart; // set while this epoch's stream is a copy
    private long _copyOrdinal;
    private long _receivedBytes;
    private long _handledBytes;
    private long _maxUncreditedBytes;
    private long _peerLastSequence;
    private long _durableToReport = -1;
    private long _recordsReceived;
    private long _resubscriptions;
    private string? _lastProblem;
    private bool _resubscribeScheduled;

    public ReceiverActor(string peerNodeId, Address peerAddress, RecordStore store, ReplicationSettings settings, string? journalPluginId, string? snapshotPluginId)
    {
        _peerNodeId = peerNodeId;
        _peerAddress = peerAddress;
        _store = store;
        _settings = settings;
        var cursorStore = CursorStore.Props(peerNodeId, settings.CursorSnapshotEvery, journalPluginId, snapshotPluginId);
        _watermark = Context.ActorOf(Watermark.Props(peerNodeId, cursorStore, settings.ResubscribeBackoff), "watermark");
        _saver = Context.ActorOf(BlobSaver.Props(store.Blobs, _watermark, settings.Faults, settings.BlobDurability, settings.IoDispatcher), "blob-saver");
        Streaming();
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
            self.Tell(new Resubscribe($"a child failed: {error.Message}"));
            return Directive.Restart;
        });
    }

    protected override void PreStart()
    {
        BeginEpoch();
        Timers.StartPeriodicTimer(CheckIdle.Instance, CheckIdle.Instance, Max(TimeSpan.FromMilliseconds(100), _settings.IdleTimeout / 4));
    }

    private void Streaming()
    {
        Receive<Watermark.ResumeFrom>(resume =>
        {
            if (resume.Epoch != _epoch) return;
            _committed = resume.Sequence;
            _sinceHeard.Restart();
            Context.ActorSelection(HubPath(_peerAddress)).Tell(
                new Subscribe(_store.NodeId, _epoch, resume.Sequence + 1, _settings.WindowBytes, Self, resume.CopyStart, resume.CopyAfterKey,
                    _settings.ChunkSizeBytes, _settings.MaxFramePayloadBytes));
            _log.Info("subscribed to {0} at {1} from sequence {2}{3} (epoch {4})", _peerNodeId, _peerAddress, resume.Sequence + 1,
                resume.CopyStart > 0 ? $", resuming the copy that began at {resume.CopyStart}" : "", _epoch);
        });
        Receive<RecordFrame>(frame =>
        {
            if (frame.Epoch != _epoch) return;
            Heard(frame.CostBytes);
            OnFrame(frame);
        });
        Receive<CopyFrame>(frame =>
        {
            if (frame.Epoch != _epoch) return;
            Heard(frame.CostBytes);
            OnCopyFrame(frame);
        });
        Receive<BlobChunk>(chunk =>
        {
            if (chunk.Epoch != _epoch) return;
            Heard(chunk.CostBytes);
            OnChunk(chunk);
        });
        Receive<BlobSaver.ChunkWritten>(written =>
        {
            if (written.Epoch == _epoch) Handled(written.CostBytes);
        });
        Receive<BlobSaver.SaveFailed>(failed =>
        {
            if (failed.Epoch == _epoch) ScheduleResubscribe($"blob {failed.FileId} of sequence {failed.Sequence} failed: {failed.Reason}");
        });
        Receive<Watermark.Advanced>(advanced =>
        {
            if (advanced.Epoch != _epoch) return;
            var durable = Math.Min(advanced.Committed, advanced.Durable);
            if (durable == _durableToReport) return;
            _durableToReport = durable;
            if (!Timers.IsTimerActive(SendReceipt.Instance)) Timers.StartSingleTimer(SendReceipt.Instance, SendReceipt.Instance, ReceiptInterval);
        });
        Receive<SendReceipt>(_ => _upstream.Tell(new Receipt(_epoch, _durableToReport)));
        Receive<PollAwaitedBlobs>(_ => OnPollAwaitedBlobs());
        Receive<Resubscribe>(resubscribe =>
        {
            _resubscribeScheduled = false;
            _log.Warning("re-subscribing to {0}: {1}", _peerNodeId, resubscribe.Reason);
            BeginEpoch();
        });
        Receive<CheckIdle>(_ =>
        {
            // Waiting on our own saver is not silence from the peer.
            var waitingOnSaver = _receivedBytes > _handledBytes;
            if (!waitingOnSaver && !_resubscribeScheduled && _sinceHeard.Elapsed > _settings.IdleTimeout)
                ScheduleResubscribe($"nothing heard for {_sinceHeard.Elapsed.TotalSeconds:F1}s", immediately: true);
        });
        Receive<Terminated>(terminated =>
        {
            if (terminated.ActorRef.Equals(_upstream)) ScheduleResubscribe("the peer's sender stopped");
        });
        Receive<PeerSeen>(seen =>
        {
            _peerLastSequence = Math.Max(_peerLastSequence, seen.LastSequence);
            // The peer answers but its stream went quiet (a subscription or credit lost while the connection was
            // down): start over now rather than after the idle timeout, so a healed network resumes at once.
            var waitingOnSaver = _receivedBytes > _handledBytes;
            if (!waitingOnSaver && !_resubscribeScheduled && _sinceHeard.Elapsed > QuietStreamAfter)
                ScheduleResubscribe($"the peer answers but its stream has been quiet for {_sinceHeard.Elapsed.TotalSeconds:F1}s", immediately: true);
        });
        Receive<PeerMoved>(moved =>
        {
            _peerAddress = moved.Address;
            ScheduleResubscribe($"peer now at {moved.Address}", immediately: true);
        });
        Receive<GetStatus>(_ => OnGetStatus());
    }

    /// <summary>
    /// A live stream sends at least a heartbeat a second; this much silence from a peer that answers means the stream
    /// is gone. Not much less than the idle timeout: a sender starved of I/O threads on a busy node is not gone.
    /// </summary>
    private TimeSpan QuietStreamAfter => Max(_settings.HeartbeatInterval * 3, _settings.IdleTimeout / 3);

    private void TrackUpstream()
    {
        if (Sender.Equals(_upstream)) return;
        if (!_upstream.IsNobody()) Context.Unwatch(_upstream);
        _upstream = Sender;
        Context.Watch(_upstream);
    }

    private void OnFrame(RecordFrame frame)
    {
        TrackUpstream();
        if (_expectedBlobs.Count > 0)
        {
            Refuse($"frame up to {frame.UpToSequence} arrived while {_expectedBlobs.Count} blob(s) of sequence {_expectedBlobs.Peek().Sequence} were still due");
            return;
        }
        if (_copyStart is not null)
        {
            Refuse($"frame up to {frame.UpToSequence} arrived before the copy that began at {_copyStart} was done");
            return;
        }
        if (frame.AfterSequence != _committed)
        {
            // Lost, duplicated or reordered in transit: nothing of it is applied, the leg restarts from durable.
            ScheduleResubscribe($"frame after {frame.AfterSequence} does not continue where this follower is ({_committed}): a frame was lost or reordered in transit", immediately: true);
            return;
        }
        if (frame.UpToSequence < frame.AfterSequence)
        {
            Refuse($"frame up to {frame.UpToSequence} ends before it begins (after {frame.AfterSequence})");
            return;
        }
        var applied = DecodeAndApply(frame.Payload, frame.RecordCount, _committed, frame.UpToSequence, inCopy: false, $"frame up to {frame.UpToSequence}");
        if (applied is null) return;
        var records = applied.Value.Records;
        for (var i = 0; i < records.Count; i++)
            _watermark.Tell(new Watermark.Committed(_epoch, records[i].Sequence, applied.Value.BlobsToSave[i]));
        // Entries after the last record that this follower does not receive: a sequence update with no data.
        var lastRecord = records.Count > 0 ? records[^1].Sequence : _committed;
        if (frame.UpToSequence > lastRecord) _watermark.Tell(new Watermark.Committed(_epoch, frame.UpToSequence, []));
        _committed = frame.UpToSequence;
        _peerLastSequence = Math.Max(_peerLastSequence, frame.UpToSequence);
        Handled(frame.CostBytes);
    }

    private void OnCopyFrame(CopyFrame frame)
    {
        TrackUpstream();
        if (_expectedBlobs.Count > 0)
        {
            Refuse($"copy frame arrived while {_expectedBlobs.Count} blob(s) of copied record {_expectedBlobs.Peek().Sequence} were still due");
            return;
        }
        if (frame.AfterOrdinal != _copyOrdinal)
        {
            ScheduleResubscribe($"copy frame after ordinal {frame.AfterOrdinal} does not continue where this copy is ({_copyOrdinal}): a frame was lost or reordered in transit", immediately: true);
            return;
        }
        if (_copyStart is null)
        {
            if (_copyOrdinal > 0 || frame.CopyStart < 0 || frame.CopyStart > RecordFrameCodec.MaxSequence)
            {
                Refuse($"copy frame (start {frame.CopyStart}) arrived after this subscription's copy was done");
                return;
            }
            _copyStart = frame.CopyStart;
            _watermark.Tell(new Watermark.CopyBegan(_epoch, frame.CopyStart));
        }
        else if (frame.CopyStart != _copyStart)
        {
            Refuse($"copy frame names copy start {frame.CopyStart}, but this copy began at {_copyStart}");
            return;
        }

        var applied = DecodeAndApply(frame.Payload, frame.RecordCount, _copyOrdinal, RecordFrameCodec.MaxSequence, inCopy: true, "copy frame");
        if (applied is null) return;
        var records = applied.Value.Records;
        for (var i = 0; i < records.Count; i++)
        {
            var record = records[i].Record;
            _watermark.Tell(new Watermark.CopyCommitted(_epoch, records[i].Sequence, RecordCodec.Key(record.Table, record.Id), applied.Value.BlobsToSave[i]));
        }
        if (records.Count > 0) _copyOrdinal = records[^1].Sequence;
        if (frame.Done)
        {
            _watermark.Tell(new Watermark.CopyDone(_epoch, _copyOrdinal));
            _committed = frame.CopyStart; // the audit log follows from where the copy began
            _peerLastSequence = Math.Max(_peerLastSequence, frame.CopyStart);
            _copyStart = null;
        }
        Handled(frame.CostBytes);
    }

    /// <summary>
    /// Checks a frame's records, applies them in one transaction and queues the blobs that follow. Null when
    /// the frame was refused or could not be applied (the subscription then starts over).
    /// </summary>
    private (IReadOnlyList<ReplicatedRecord> Records, string[][] BlobsToSave)? DecodeAndApply(
        byte[] payload, int count, long afterSequence, long upToSequence, bool inCopy, string what)
    {
        if (payload.Length > _settings.MaxFramePayloadBytes)
        {
            Refuse($"{what} of {payload.Length} bytes is over the limit of {_settings.MaxFramePayloadBytes}");
            return null;
        }
        IReadOnlyList<ReplicatedRecord> records;
        try
        {
            // What the format can hold, not this node's own record.max-size and blob.max-size: those gate local
            // writes (tightened to every member's), and a record a peer took before it met this node must not stall
            // the stream for good.
            records = RecordFrameCodec.Decode(payload, count, afterSequence, upToSequence, RecordLimits.Format.MaxDataBytes, RecordLimits.Format.MaxBlobBytes);
        }
        catch (FormatException e)
        {
            Refuse(e.Message);
            return null;
        }

        _recordsReceived += records.Count;
        IReadOnlyList<ApplyOutcome> outcomes;
        try
        {
            outcomes = records.Count == 0 ? [] : _store.ApplyReplicated(records.Select(r => r.Record).ToArray());
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            ScheduleResubscribe($"applying {what} failed: {e.Message}");
            return null;
        }

        var blobsToSave = new string[records.Count][];
        for (var i = 0; i < records.Count; i++)
        {
            var (sequence, record, unavailable) = records[i];
            var toSave = outcomes[i].BlobsToSave;
            blobsToSave[i] = toSave.Select(b => b.FileId).ToArray();
            foreach (var blob in record.Blobs)
            {
                var save = toSave.Any(s => s.FileId == blob.FileId);
                // The sender streams every blob it has; this node keeps only the ones it lacks. One the sender
                // lacks too is looked for in the blob store until another stream has brought it.
                if (!unavailable.Contains(blob.FileId)) _expectedBlobs.Enqueue(new ExpectedBlob(sequence, blob, save, inCopy));
                else if (save) AwaitElsewhere(new AwaitedBlob(_epoch, sequence, record.Table, record.Id, blob, inCopy));
            }
        }
        return (records, blobsToSave);
    }

    private void AwaitElsewhere(AwaitedBlob awaited)
    {
        _awaitedBlobs.Add(awaited);
        if (!Timers.IsTimerActive(PollAwaitedBlobs.Instance))
            Timers.StartPeriodicTimer(PollAwaitedBlobs.Instance, PollAwaitedBlobs.Instance, _settings.AwaitedBlobPoll);
    }

    /// <summary>
    /// A blob at its final name was fsynced before it was renamed there; one directory fsync makes the names of
    /// all that arrived durable too, and then the watermark may count them. A blob the record's current version
    /// here no longer names is owed by nobody: the newer version replaced it (and is tracked by the stream or
    /// write that brought it), so it no longer holds the watermark.
    /// </summary>
    private void OnPollAwaitedBlobs()
    {
        _awaitedBlobs.RemoveAll(awaited => awaited.Epoch != _epoch);
        foreach (var moot in _awaitedBlobs.Where(awaited => _store.Get(awaited.Table, awaited.Id)?.Blobs.Any(b => b.FileId == awaited.Blob.FileId) != true).ToList())
        {
            _watermark.Tell(new Watermark.BlobDurable(moot.Epoch, moot.Sequence, moot.Blob.FileId, moot.InCopy));
            _awaitedBlobs.Remove(moot);
        }
        var arrived = _awaitedBlobs.Where(awaited => _store.Blobs.IsPresent(awaited.Blob)).ToList();
        if (arrived.Count > 0)
        {
            try
            {
                _store.Blobs.SyncDirectory();
                foreach (var awaited in arrived)
                {
                    _watermark.Tell(new Watermark.BlobDurable(awaited.Epoch, awaited.Sequence, awaited.Blob.FileId, awaited.InCopy));
                    _awaitedBlobs.Remove(awaited);
                }
            }
            catch (IOException e)
            {
                _log.Warning("directory fsync for blobs that arrived from elsewhere failed ({0}); will try again", e.Message);
            }
        }
        if (_awaitedBlobs.Count == 0) Timers.Cancel(PollAwaitedBlobs.Instance);
    }

    private void OnChunk(BlobChunk chunk)
    {
        if (!_expectedBlobs.TryPeek(out var expected))
        {
            Refuse($"chunk of blob {chunk.FileId} arrived when no blob was due");
            return;
        }
        if (chunk.FileId != expected.Blob.FileId || chunk.Sequence != expected.Sequence || chunk.Offset != expected.Received)
        {
            Refuse($"chunk of blob {chunk.FileId} (sequence {chunk.Sequence}, offset {chunk.Offset}) arrived where blob {expected.Blob.FileId} (sequence {expected.Sequence}, offset {expected.Received}) was due");
            return;
        }
        var end = chunk.Offset + chunk.Bytes.Length;
        if (end > expected.Blob.Size || (chunk.Bytes.Length == 0 && expected.Blob.Size != 0) || chunk.Bytes.Length > _settings.ChunkSizeBytes)
        {
            Refuse($"chunk of blob {chunk.FileId} with {chunk.Bytes.Length} bytes at offset {chunk.Offset} does not fit its size {expected.Blob.Size}");
            return;
        }
        expected.Received = end;
        if (end == expected.Blob.Size) _expectedBlobs.Dequeue();
        if (expected.Save)
            _saver.Tell(new BlobSaver.SaveChunk(_epoch, chunk.Sequence, expected.Blob, chunk.Offset, chunk.Bytes, chunk.CostBytes, expected.InCopy));
        else
            Handled(chunk.CostBytes);
    }

    /// <summary>Bad input from the network: say what was wrong, apply nothing of it, and start over from the watermark.</summary>
    private void Refuse(string problem)
    {
        _log.Error("refused input from peer {0}: {1}", _peerNodeId, problem);
        ScheduleResubscribe(problem);
    }

    private void Heard(long costBytes)
    {
        _sinceHeard.Restart();
        _receivedBytes += costBytes;
        _maxUncreditedBytes = Math.Max(_maxUncreditedBytes, _receivedBytes - _handledBytes);
    }

    private void Handled(long costBytes)
    {
        _handledBytes += costBytes;
        _upstream.Tell(new Credit(_epoch, _handledBytes));
    }

    private void ScheduleResubscribe(string reason, bool immediately = false)
    {
        _lastProblem = reason;
        // Stop taking this epoch's input at once; the new epoch begins after the backoff.
        _epoch = NextEpoch(_epoch);
        _expectedBlobs.Clear();
        if (_resubscribeScheduled) return;
        _resubscribeScheduled = true;
        Timers.StartSingleTimer("resubscribe", new Resubscribe(reason), immediately ? TimeSpan.Zero : _settings.ResubscribeBackoff);
    }

    private void BeginEpoch()
    {
        _epoch = NextEpoch(_epoch);
        _resubscriptions++;
        _expectedBlobs.Clear();
        _copyStart = null;
        _copyOrdinal = 0;
        _receivedBytes = 0;
        _handledBytes = 0;
        if (!_upstream.IsNobody()) Context.Unwatch(_upstream);
        _upstream = ActorRefs.Nobody;
        _sinceHeard.Restart();
        _saver.Tell(new BlobSaver.ResetEpoch(_epoch));
        _watermark.Tell(new Watermark.BeginEpoch(_epoch));
    }

    /// <summary>Epochs grow across restarts of this node too (they start from the clock), so a peer never confuses them.</summary>
    private static long NextEpoch(long current) => Math.Max(current + 1, DateTime.UtcNow.Ticks);

    private void OnGetStatus()
    {
        // Captured now: the reply is composed after the watermark answers, off this actor's thread.
        var (peer, address, epoch, peerLast, maxUncredited, received, resubscriptions, problem) =
            (_peerNodeId, _peerAddress, _epoch, _peerLastSequence, _maxUncreditedBytes, _recordsReceived, _resubscriptions, _lastProblem);
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
