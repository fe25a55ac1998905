using Akka.Actor;
using Akka.Event;
using ClusterNode.Actors.Streams;
using ClusterNode.Persistence.Records;
using static ClusterNode.Actors.Replication.AuditLogSender;

namespace ClusterNode.Actors.Replication;

/// <summary>
/// Streams the audit log to one follower's receiver: the glue around <see cref="OutgoingStream"/>, which decides
/// what goes next. Runs on the I/O dispatcher: it reads LMDB and blob files. It sends while the bytes in flight
/// (sent, not yet credited) stay within the window, and otherwise waits for credit; it never waits for the
/// follower's disks, because credit comes back when a frame or chunk is handled there, not when it is durable.
/// </summary>
internal sealed class AuditLogSenderActor : ReceiveActor, IWithTimers
{
    private sealed record Heartbeat
    {
        public static readonly Heartbeat Instance = new();
    }

    private readonly Subscribe _subscription;
    private readonly IReplicationSource _source;
    private readonly RecordStore _store;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Queue<OutgoingBlob> _blobs = new();
    private OutgoingStream _stream;

    public AuditLogSenderActor(Subscribe subscription, RecordStore store, ReplicationSettings settings)
    {
        _subscription = subscription;
        _source = store;
        _store = store;
        _stream = OutgoingStream.Begin(subscription, StreamLimits.Of(settings), store.FirstRetainedSequence, store.LastSequence);
        HeartbeatInterval = settings.HeartbeatInterval;

        Receive<Credit>(credit =>
        {
            _stream = _stream.Credited(credit);
            Pump();
        });
        Receive<Receipt>(receipt => _stream = _stream.Receipted(receipt));
        Receive<AuditAppended>(_ => Pump());
        Receive<Heartbeat>(_ =>
        {
            Pump();
            (_stream, var heartbeat) = _stream.OnHeartbeatTick(blobsPending: _blobs.Count > 0);
            if (heartbeat is not null) Send(heartbeat, heartbeat is RecordFrame r ? r.CostBytes : ((CopyFrame)heartbeat).CostBytes);
        });
        Receive<Terminated>(_ => Context.Stop(Self));
        Receive<GetStatus>(_ => Sender.Tell(new FollowerStatus(_subscription.FollowerNodeId, _stream.Epoch, _stream.NextSequence,
            _stream.ReceiptSequence, _stream.InFlightBytes, _stream.MaxInFlightBytes, _stream.WindowBytes)));
    }

    private TimeSpan HeartbeatInterval { get; }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        if (_stream.Copy is { } copy)
            _log.Info("copying records to {0}: its cursor is older than this node's log keeps; the log follows from {1}", _subscription.FollowerNodeId, copy.CopyStart + 1);
        Context.Watch(_subscription.Receiver);
        Timers.StartPeriodicTimer(Heartbeat.Instance, Heartbeat.Instance, HeartbeatInterval);
        Pump();
    }

    protected override void PostStop()
    {
        foreach (var blob in _blobs) blob.Dispose();
        _blobs.Clear();
    }

    /// <summary>Sends while the window has room: first the chunks of the frame in progress, then the next frame.</summary>
    private void Pump()
    {
        while (true)
        {
            if (_blobs.TryPeek(out var blob))
            {
                if (!_stream.HasRoomFor(blob.NextChunkCost(_stream.Limits.ChunkBytes))) return;
                var chunk = blob.ReadChunk(_stream.Epoch, _stream.Limits.ChunkBytes);
                if (blob.Done)
                {
                    _blobs.Dequeue().Dispose();
                    if (!blob.SentRightBytes) _store.ReportDamagedBlob(blob.Record.Table, blob.Record.Id, blob.Blob, "its bytes here do not hash right (found while streaming it)");
                }
                Send(chunk, chunk.CostBytes);
                continue;
            }
            var wasCopying = _stream.Copy is not null;
            switch (_stream.BuildNext(_source))
            {
                case FrameReady ready:
                    _stream = ready.Next;
                    _subscription.Receiver.Tell(ready.Frame, Self);
                    foreach (var opened in ready.Blobs) _blobs.Enqueue(opened);
                    if (wasCopying && _stream.Copy is null)
                        _log.Info("copy to {0} done; streaming the log from {1}", _subscription.FollowerNodeId, _stream.NextSequence);
                    continue;
                case LogTrimmed trimmed:
                    _log.Warning("the audit log no longer holds sequence {0} that {1} needs (oldest kept: {2}); ending the stream so it copies",
                        trimmed.NeededSequence, _subscription.FollowerNodeId, trimmed.OldestKept);
                    Context.Stop(Self);
                    return;
                case FrameTooLarge tooLarge:
                    _log.Error("the next frame to {0} would be {1} bytes, over the remote frame limit; stream stopped", _subscription.FollowerNodeId, tooLarge.PayloadBytes);
                    Context.Stop(Self);
                    return;
                default:
                    return;
            }
        }
    }

    private void Send(object message, long costBytes)
    {
        _stream = _stream.Sent(costBytes);
        _subscription.Receiver.Tell(message, Self);
    }
}
