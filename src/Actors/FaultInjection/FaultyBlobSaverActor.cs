using Akka.Actor;
using Akka.Event;
using ClusterNode.Actors.Replication;
using ClusterNode.Actors.Watermarks;

namespace ClusterNode.Actors.FaultInjection;

/// <summary>
/// Stands between a receiver and its real blob saver (its child) and makes the disk misbehave as
/// <see cref="BlobSaveFaults"/> says, the way FoundationDB wraps a file: the last chunk of a chosen save is not
/// written but reported failed, exactly as the saver reports a real failure; and every chunk waits the configured
/// delay before it is written, later messages queued behind it in order, as behind a slow disk.
/// </summary>
internal sealed class FaultyBlobSaverActor : ReceiveActor, IWithStash, IWithTimers
{
    /// <summary>The slow disk's delay is over for this chunk: write it now.</summary>
    private sealed record DelayOver(BlobSaver.SaveChunk Chunk);

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
            if (_faults.ChunkDelay <= TimeSpan.Zero)
            {
                Write(chunk);
                return;
            }
            Timers.StartSingleTimer(nameof(DelayOver), new DelayOver(chunk), _faults.ChunkDelay);
            Become(Delaying);
        });
        FromTheSaver();
        ReceiveAny(message => _saver.Forward(message));
    }

    /// <summary>A chunk waits for the slow disk; everything after it waits its turn, in order.</summary>
    private void Delaying()
    {
        Receive<DelayOver>(over =>
        {
            Write(over.Chunk);
            Become(Ready);
            Stash.UnstashAll();
        });
        FromTheSaver();
        ReceiveAny(_ => Stash.Stash());
    }

    private void FromTheSaver()
    {
        Receive<BlobSaver.ChunkWritten>(written => Context.Parent.Tell(written));
        Receive<BlobSaver.SaveFailed>(failed => Context.Parent.Tell(failed));
    }

    private void Write(BlobSaver.SaveChunk chunk)
    {
        if (chunk.IsLast && ++_savesAttempted > _faults.Skip && _failuresInjected < _faults.FailCount)
        {
            _failuresInjected++;
            InjectFailure(chunk, $"injected blob-save failure {_failuresInjected} of {_faults.FailCount}");
            return;
        }
        _saver.Tell(chunk);
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
