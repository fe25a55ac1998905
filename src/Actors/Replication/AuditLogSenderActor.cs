using Akka.Actor;
using Akka.Event;
using ClusterNode.Persistence.Binary;
using ClusterNode.Persistence.Records;
using static ClusterNode.Actors.Replication.AuditLogSender;

namespace ClusterNode.Actors.Replication;

/// <summary>
/// Streams the audit log to one follower's receiver. Runs on the I/O dispatcher: it reads LMDB and blob files.
/// It sends while the bytes in flight (sent, not yet credited) stay within the window, and otherwise waits
/// for credit; it never waits for the follower's disks, because credit comes back when a frame or chunk is
/// handled there, not when it is durable.
///
/// A frame's records go first, then the chunks of all their blobs, in the records' order.
///
/// An audit entry whose version was since replaced here is skipped (the replacing entry comes later in the
/// log), as is one that originated at the follower itself; a frame's UpToSequence tells the follower it may
/// count those as received. A forwarded record whose blob has not arrived on this node yet goes with that blob
/// marked unavailable; the follower's watermark stays below it until the bytes reach the follower otherwise.
/// </summary>
internal sealed class AuditLogSenderActor : ReceiveActor, IWithTimers
{
    private sealed record Heartbeat
    {
        public static readonly Heartbeat Instance = new();
    }

    private sealed class OutgoingBlob(long sequence, string fileId, long size, FileStream file) : IDisposable
    {
        public long Sequence { get; } = sequence;
        public string FileId { get; } = fileId;
        public long Size { get; } = size;
        public FileStream File { get; } = file;
        public long Offset { get; set; }
        public void Dispose() => File.Dispose();
    }

    /// <summary>A copy in progress: records are sent in key order after <see cref="AfterKey"/>, numbered by ordinal.</summary>
    private sealed class CopyPhase(long copyStart, byte[] startAfterKey)
    {
        public long CopyStart { get; } = copyStart;
        public byte[] StartAfterKey { get; } = startAfterKey;
        public byte[] AfterKey { get; set; } = startAfterKey;
        public long Ordinal { get; set; }
    }

    private const int AuditReadBatch = 512;

    /// <summary>
    /// The blobs of a frame's records follow it, chunk by chunk, before the next frame. Many records with blobs
    /// share a frame, so one LMDB commit at the follower covers them; the bound keeps open files and the
    /// follower's queue of due blobs small.
    /// </summary>
    private const int MaxBlobsPerFrame = 64;
    private const int CopyReadBatch = 256;
    private readonly Subscribe _subscription;
    private readonly RecordStore _store;
    private readonly ReplicationSettings _settings;
    private readonly long _windowBytes;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Queue<OutgoingBlob> _blobs = new();
    private long _nextSequence;
    private long _sentBytes;
    private long _creditedBytes;
    private long _maxInFlightBytes;
    private long _durableAtFollower;
    private bool _sentSinceHeartbeat;
    private CopyPhase? _copy;
    private readonly int _chunkBytes;
    private readonly int _frameTargetBytes;
    private readonly int _maxFramePayloadBytes;

    public AuditLogSenderActor(Subscribe subscription, RecordStore store, ReplicationSettings settings)
    {
        _subscription = subscription;
        _store = store;
        _settings = settings;
        // The follower's window, but never more than ours: a follower cannot make this node buffer more.
        _windowBytes = Math.Clamp(subscription.WindowBytes, 2L * settings.ChunkSizeBytes, settings.WindowBytes);
        _nextSequence = Math.Max(1, subscription.FromSequence);
        _chunkBytes = AtMost(settings.ChunkSizeBytes, subscription.MaxChunkBytes);
        _frameTargetBytes = AtMost(settings.FrameTargetBytes, subscription.MaxFramePayloadBytes);
        _maxFramePayloadBytes = AtMost(settings.MaxFramePayloadBytes, subscription.MaxFramePayloadBytes);
        _copy = ChooseCopy(subscription, store);
        if (_copy is not null) _nextSequence = _copy.CopyStart + 1;

        Receive<Credit>(credit =>
        {
            if (credit.Epoch != _subscription.Epoch) return;
            _creditedBytes = Math.Max(_creditedBytes, Math.Min(credit.HandledBytes, _sentBytes));
            Pump();
        });
        Receive<Receipt>(receipt =>
        {
            if (receipt.Epoch == _subscription.Epoch) _durableAtFollower = Math.Max(_durableAtFollower, receipt.DurableSequence);
        });
        Receive<AuditAppended>(_ => Pump());
        Receive<Heartbeat>(_ =>
        {
            Pump();
            // Silence would look like a dead peer: tell the follower how far the log goes even when idle.
            if (!_sentSinceHeartbeat && _blobs.Count == 0 && InFlight + FlowControl.HeaderAllowanceBytes <= _windowBytes)
                Send(_copy is null
                    ? new RecordFrame(_subscription.Epoch, _nextSequence - 1, _nextSequence - 1, 0, [])
                    : new CopyFrame(_subscription.Epoch, _copy.CopyStart, _copy.StartAfterKey, _copy.Ordinal, 0, [], false));
            _sentSinceHeartbeat = false;
        });
        Receive<Terminated>(_ => Context.Stop(Self));
        Receive<GetStatus>(_ => Sender.Tell(new FollowerStatus(_subscription.FollowerNodeId, _subscription.Epoch, _nextSequence, _durableAtFollower, InFlight, _maxInFlightBytes, _windowBytes)));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    private long InFlight => _sentBytes - _creditedBytes;

    /// <summary>Our limit, or the follower's where it stated a smaller one.</summary>
    private static int AtMost(int ours, int followers) => followers >= MinStatedLimitBytes ? Math.Min(ours, followers) : ours;

    /// <summary>A stated limit below this is ignored: it would only make the stream crawl.</summary>
    private const int MinStatedLimitBytes = 1024;

    protected override void PreStart()
    {
        Context.Watch(_subscription.Receiver);
        Timers.StartPeriodicTimer(Heartbeat.Instance, Heartbeat.Instance, _settings.HeartbeatInterval);
        Pump();
    }

    protected override void PostStop()
    {
        foreach (var blob in _blobs) blob.Dispose();
        _blobs.Clear();
    }

    /// <summary>Sends while the window has room: first the chunks of the record in progress, then the next frame.</summary>
    private void Pump()
    {
        while (true)
        {
            if (_blobs.TryPeek(out var blob))
            {
                if (!SendChunk(blob)) return;
                continue;
            }
            if (!(_copy is null ? SendFrame() : SendCopyFrame(_copy))) return;
        }
    }

    private bool SendChunk(OutgoingBlob blob)
    {
        var length = (int)Math.Min(_chunkBytes, blob.Size - blob.Offset);
        if (!HasRoomFor(length + FlowControl.HeaderAllowanceBytes)) return false;
        var bytes = new byte[length];
        blob.File.ReadExactly(bytes);
        Send(new BlobChunk(_subscription.Epoch, blob.Sequence, blob.FileId, blob.Offset, bytes));
        blob.Offset += length;
        if (blob.Offset == blob.Size)
        {
            _blobs.Dequeue();
            blob.Dispose();
        }
        return true;
    }

    /// <summary>Builds and sends one frame; false when there is nothing to send or no room for it.</summary>
    private bool SendFrame()
    {
        if (!HasRoomFor(_frameTargetBytes)) return false;
        var entries = _store.ReadAudit(_nextSequence, AuditReadBatch);
        if (entries.Count == 0) return false;
        if (entries[0].Sequence != _nextSequence)
        {
            // The log was trimmed past what this follower still needs (retention is shorter than its lag). A frame
            // now would skip those entries unseen; instead the stream ends and the follower's new subscription,
            // from its durable watermark, finds its cursor behind the retention and copies.
            _log.Warning("the audit log no longer holds sequence {0} that {1} needs (oldest kept: {2}); ending the stream so it copies",
                _nextSequence, _subscription.FollowerNodeId, entries[0].Sequence);
            Context.Stop(Self);
            return false;
        }

        var payload = new ByteWriter(_frameTargetBytes);
        var count = 0;
        var upTo = _nextSequence - 1;
        var blobsOfFrame = new List<OutgoingBlob>();
        foreach (var entry in entries)
        {
            if (entry.Version.Origin == _subscription.FollowerNodeId)
            {
                upTo = entry.Sequence; // the follower wrote it: it has it
                continue;
            }
            var record = _store.Get(entry.Table, entry.Id);
            if (record is null || record.Version != entry.Version)
            {
                upTo = entry.Sequence; // replaced since: the later entry carries the newer version
                continue;
            }
            var prepared = PrepareBlobs(entry.Sequence, record);
            if (prepared is null)
            {
                upTo = entry.Sequence; // replaced while its blobs were opened: superseded
                continue;
            }
            var (opened, unavailable) = prepared.Value;
            var before = payload.Length;
            RecordFrameCodec.Append(payload, entry.Sequence, record, unavailable);
            if (count > 0 && payload.Length > _frameTargetBytes)
            {
                // Full: this record opens the next frame.
                foreach (var blob in opened) blob.Dispose();
                payload = Truncated(payload, before);
                break;
            }
            count++;
            upTo = entry.Sequence;
            blobsOfFrame.AddRange(opened);
            if (blobsOfFrame.Count >= MaxBlobsPerFrame) break;
        }

        if (upTo < _nextSequence) return false; // nothing consumed: waiting for a blob at the head
        var frame = new RecordFrame(_subscription.Epoch, _nextSequence - 1, upTo, count, payload.ToArray());
        if (frame.Payload.Length > _maxFramePayloadBytes)
        {
            // Cannot happen while record.max-size fits the frame limit (checked at start-up); never send it.
            _log.Error("frame up to {0} would be {1} bytes, over the remote frame limit; stream to {2} stopped", upTo, frame.Payload.Length, _subscription.FollowerNodeId);
            foreach (var blob in blobsOfFrame) blob.Dispose();
            Context.Stop(Self);
            return false;
        }
        if (!HasRoomFor(frame.CostBytes))
        {
            foreach (var blob in blobsOfFrame) blob.Dispose();
            return false; // built again when credit makes room
        }
        Send(frame);
        foreach (var blob in blobsOfFrame) _blobs.Enqueue(blob);
        _nextSequence = upTo + 1;
        return true;
    }

    /// <summary>
    /// Copy mode when the log no longer reaches back to what the follower needs (its cursor, or the start of the
    /// copy it is resuming): the records themselves are sent, then the log from where the copy began.
    /// </summary>
    private static CopyPhase? ChooseCopy(Subscribe subscription, RecordStore store)
    {
        var firstRetained = store.FirstRetainedSequence;
        if (subscription.CopyStart > 0 && subscription.CopyStart + 1 >= firstRetained)
            return new CopyPhase(subscription.CopyStart, subscription.CopyAfterKey ?? []);
        if (subscription.CopyStart > 0 || subscription.FromSequence < firstRetained)
            return new CopyPhase(store.LastSequence, []);
        return null;
    }

    /// <summary>Sends the next records of the copy; the last frame says Done and streaming takes over.</summary>
    private bool SendCopyFrame(CopyPhase copy)
    {
        if (!HasRoomFor(_frameTargetBytes)) return false;
        var records = _store.Scan(copy.AfterKey.Length == 0 ? null : copy.AfterKey, CopyReadBatch);
        var payload = new ByteWriter(_frameTargetBytes);
        var count = 0;
        var afterKey = copy.AfterKey;
        var ordinal = copy.Ordinal;
        var blobsOfFrame = new List<OutgoingBlob>();
        var consumedAll = true;
        foreach (var record in records)
        {
            var key = RecordCodec.Key(record.Table, record.Id);
            if (record.Version.Origin == _subscription.FollowerNodeId)
            {
                afterKey = key; // the follower wrote it: it has it or something newer
                continue;
            }
            var prepared = PrepareBlobs(ordinal + 1, record);
            if (prepared is null)
            {
                consumedAll = false; // replaced meanwhile: read it again on the next pass
                break;
            }
            var (opened, unavailable) = prepared.Value;
            var before = payload.Length;
            RecordFrameCodec.Append(payload, ordinal + 1, record, unavailable);
            if (count > 0 && payload.Length > _frameTargetBytes)
            {
                foreach (var blob in opened) blob.Dispose();
                payload = Truncated(payload, before);
                consumedAll = false;
                break;
            }
            count++;
            ordinal++;
            afterKey = key;
            blobsOfFrame.AddRange(opened);
            if (blobsOfFrame.Count >= MaxBlobsPerFrame)
            {
                consumedAll = false;
                break;
            }
        }

        var done = consumedAll && records.Count < CopyReadBatch;
        if (count == 0 && !done && afterKey == copy.AfterKey) return false; // waiting for a blob at the head
        var frame = new CopyFrame(_subscription.Epoch, copy.CopyStart, copy.StartAfterKey, copy.Ordinal, count, payload.ToArray(), done);
        if (!HasRoomFor(frame.CostBytes))
        {
            foreach (var blob in blobsOfFrame) blob.Dispose();
            return false;
        }
        Send(frame);
        foreach (var blob in blobsOfFrame) _blobs.Enqueue(blob);
        copy.AfterKey = afterKey;
        copy.Ordinal = ordinal;
        if (done)
        {
            _log.Info("copy to {0} done after {1} records; streaming the log from {2}", _subscription.FollowerNodeId, ordinal, copy.CopyStart + 1);
            _copy = null;
        }
        return true;
    }

    /// <summary>
    /// Opens every blob of the record now, so a later replacement that deletes a file cannot cut a stream short.
    /// A blob whose bytes are not here (a record this node forwards before its blob arrived) is not waited for,
    /// which would hold up everything behind it for as long as its origin is away: it is sent as unavailable, and
    /// the follower gets those bytes from the origin. Null when the record was replaced meanwhile.
    /// </summary>
    private (List<OutgoingBlob> Opened, List<string> Unavailable)? PrepareBlobs(long sequence, StoredRecord record)
    {
        var opened = new List<OutgoingBlob>(record.Blobs.Count);
        var unavailable = new List<string>();
        foreach (var blob in record.Blobs)
        {
            var file = _store.Blobs.TryOpenRead(blob.FileId);
            if (file is null || file.Length != blob.Size)
            {
                file?.Dispose();
                unavailable.Add(blob.FileId);
                continue;
            }
            opened.Add(new OutgoingBlob(sequence, blob.FileId, blob.Size, file));
        }
        if (unavailable.Count == 0) return (opened, unavailable);
        // A file can also be missing because a replacement committed since the record was read and deleted it.
        var now = _store.Get(record.Table, record.Id);
        if (now is not null && now.Version == record.Version) return (opened, unavailable);
        foreach (var blob in opened) blob.Dispose();
        return null;
    }

    private static ByteWriter Truncated(ByteWriter writer, int length) => new ByteWriter(length).Raw(writer.Written[..length]);

    /// <summary>Room for <paramref name="costBytes"/> more in flight; an oversized item goes alone into an empty window.</summary>
    private bool HasRoomFor(long costBytes) => InFlight == 0 || InFlight + costBytes <= _windowBytes;

    private void Send(object message)
    {
        var cost = message switch
        {
            RecordFrame frame => frame.CostBytes,
            CopyFrame frame => frame.CostBytes,
            BlobChunk chunk => chunk.CostBytes,
            _ => 0,
        };
        _sentBytes += cost;
        _maxInFlightBytes = Math.Max(_maxInFlightBytes, InFlight);
        _sentSinceHeartbeat = true;
        _subscription.Receiver.Tell(message, Self);
    }
}
