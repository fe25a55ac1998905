using Akka.Actor;
using Akka.Event;
using ClusterNode.Actors.Replication;
using ClusterNode.Actors.Watermarks;

namespace ClusterNode.Actors.FaultInjection;

/// <summary>
/// Stands between a receiver and its real blob saver (its child) and makes the disk misbehave as
/// <see cref="BlobSaveFaults"/> says, the way FoundationDB wraps a file: the last chunk of a chosen save is not
/// written but reported failed, exactly as the saver reports a real failure; and each chunk's acknowledgement is held
/// for the configured delay, with later chunks waiting their turn, as behind a slow disk.
/// </summary>
internal sealed class FaultyBlobSaverActor : ReceiveActor, IWithStash, IWithTimers
{
    /// <summary>The acknowledgement of a chunk, once the slow disk's delay is over.</summary>
    private sealed record DelayOver(BlobSaver.ChunkWritten Written);

    private readonly IActorRef _saver;
    private readonly IActorRef _watermark;
    private readonly BlobSaveFaults _faults;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private int _savesAttempted;
    private int _failuresInjected;

    public FaultyBlobSaverActor(Props saver, IActorRef watermark, BlobSaveFaults faults)
    {
        _saver = Context.ActorOf(saver, "saver");
        _watermark = watermark;
        _faults = faults;
        Ready();
    }

    public IStash Stash { get; set; } = null!;
    public ITimerScheduler Timers { get; set; } = null!;

    private void Ready()
    {
        Receive<BlobSaver.SaveChunk>(chunk =>
        {
            if (chunk.IsLast && ++_savesAttempted > _faults.Skip && _failuresInjected < _faults.FailCount)
            {
                _failuresInjected++;
                InjectFailure(chunk, $"injected blob-save failure {_failuresInjected} of {_faults.FailCount}");
                return;
            }
            _saver.Tell(chunk);
            if (_faults.ChunkDelay > TimeSpan.Zero) Become(WritingSlowly);
        });
        ForwardTheRest();
    }

    /// <summary>A chunk is being written: the next ones wait, and its acknowledgement comes only after the delay.</summary>
    private void WritingSlowly()
    {
        Receive<BlobSaver.ChunkWritten>(written => Timers.StartSingleTimer(nameof(DelayOver), new DelayOver(written), _faults.ChunkDelay));
        Receive<DelayOver>(over =>
        {
            Context.Parent.Tell(over.Written);
            Become(Ready);
            Stash.UnstashAll();
        });
        Receive<BlobSaver.SaveChunk>(_ => Stash.Stash());
        ForwardTheRest();
    }

    private void ForwardTheRest()
    {
        Receive<BlobSaver.ChunkWritten>(written => Context.Parent.Tell(written));
        Receive<BlobSaver.SaveFailed>(failed => Context.Parent.Tell(failed));
        ReceiveAny(message => _saver.Forward(message));
    }

    private void InjectFailure(BlobSaver.SaveChunk chunk, string reason)
    {
        _log.Warning("blob {0} not saved: {1}", chunk.Blob.FileId, reason);
        // The saver drops the half-written blob when the next one starts (or the epoch changes).
        _watermark.Tell(new Watermark.BlobFailed(chunk.Epoch, chunk.Position, chunk.Blob.FileId, reason, chunk.InCopy));
        Context.Parent.Tell(new BlobSaver.SaveFailed(chunk.Epoch, chunk.Position, chunk.Blob.FileId, reason));
        Context.Parent.Tell(new BlobSaver.ChunkWritten(chunk.Epoch, chunk.CostBytes));
    }
}
