using Akka.Actor;
using Akka.Event;
using ClusterNode.Actors.Watermarks;
using ClusterNode.Persistence.Blobs;
using static ClusterNode.Actors.Replication.BlobSaver;

namespace ClusterNode.Actors.Replication;

/// <summary>
/// Writes blobs on the I/O dispatcher, one at a time in stream order. A chunk is acknowledged to the receiver
/// as soon as it is written (so credit never waits for a fsync); a blob is reported durable only after its
/// file and the directory entry are fsynced. Making blobs durable is deferred by a message to self, so every
/// blob sealed from chunks already queued joins one batch: one round of fsyncs, one directory fsync.
///
/// <para>Behaviours: <see cref="Taking"/> chunks, and <see cref="Full"/> (it holds <see cref="MaxSealedNotDurable"/>
/// sealed blobs not yet durable; chunks wait in the stash, their credit withheld, until the flush in flight answers,
/// which it always does).</para>
/// </summary>
internal sealed class BlobSaverActor : ReceiveActor, IWithStash
{
    private sealed record FlushDirectory
    {
        public static readonly FlushDirectory Instance = new();
    }

    private readonly BlobStore _blobs;
    private readonly IActorRef _watermark;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<(SaveChunk Chunk, BlobWriter Writer)> _sealedNotDurable = new();
    private long _epoch = long.MinValue;
    private BlobWriter? _writer;
    private SaveChunk? _current;
    private int _inFlight; // blobs of the batch the flusher has; one batch at a time
    private string? _failedFileId;
    private readonly IActorRef _flusher;

    public BlobSaverActor(BlobStore blobs, IActorRef watermark, Props flusher)
    {
        _flusher = Context.ActorOf(flusher, "flusher");
        _blobs = blobs;
        _watermark = watermark;
        Taking();
    }

    public IStash Stash { get; set; } = null!;

    /// <summary>Sealed blobs not durable yet, waiting or being flushed: each holds an open temp file.</summary>
    private int Held => _sealedNotDurable.Count + _inFlight;

    private void Taking()
    {
        Receive<SaveChunk>(OnChunk);
        Common();
    }

    /// <summary>At the bound: chunks wait (credit withheld) until the flush in flight answers.</summary>
    private void Full()
    {
        Receive<SaveChunk>(_ => Stash.Stash());
        Common();
    }

    private void Common()
    {
        Receive<ResetEpoch>(reset =>
        {
            if (reset.Epoch <= _epoch) return;
            _epoch = reset.Epoch;
            AbortCurrent();
        });
        Receive<FlushDirectory>(_ => Flush());
        Receive<BlobFlusher.BatchDone>(OnBatchDone);
    }

    private void OnChunk(SaveChunk chunk)
    {
        if (chunk.Epoch < _epoch) return; // an abandoned subscription: its credit no longer counts
        if (chunk.Epoch > _epoch)
        {
            _epoch = chunk.Epoch;
            AbortCurrent();
        }

        // Whatever happens to the bytes, the chunk is handled: its credit goes back, and a failure is reported
        // so the watermark holds and the receiver re-subscribes. Nothing here may end without either.
        try
        {
            if (chunk.Offset == 0)
            {
                AbortCurrent();
                _current = chunk;
                _writer = _blobs.BeginWrite();
            }
            if (_current?.Blob.FileId == chunk.Blob.FileId && _writer is not null)
            {
                _writer.Append(chunk.Bytes);
                if (chunk.IsLast) Seal(chunk);
            }
            else if (_failedFileId != chunk.Blob.FileId)
            {
                // Not the blob being written and not one already reported: its start was lost (a restart).
                Fail(chunk, "chunk of a blob whose start was not written here");
            }
        }
        catch (Exception e)
        {
            // Any error at all (not only I/O): an unreported blob would hold the watermark with no error shown.
            Fail(chunk, e.Message);
        }
        Context.Parent.Tell(new ChunkWritten(chunk.Epoch, chunk.CostBytes));
    }

    private void Seal(SaveChunk chunk)
    {
        var writer = _writer!;
        _writer = null;
        _current = null;
        try
        {
            writer.Seal(chunk.Blob.Field, chunk.Blob.FileId, chunk.Blob.Size, chunk.Blob.Sha256);
        }
        catch
        {
            writer.Dispose();
            throw;
        }
        // Deferred by a message to self: the chunks already queued seal more blobs into the same batch.
        if (_sealedNotDurable.Count == 0) Self.Tell(FlushDirectory.Instance);
        _sealedNotDurable.Add((chunk, writer));
        if (Held < MaxSealedNotDurable) return;
        Flush(); // unless one is in flight: then its answer flushes these
        Become(Full);
    }

    /// <summary>Hands every blob sealed since the last batch to the flusher; one batch is in flight at a time.</summary>
    private void Flush()
    {
        if (_inFlight > 0 || _sealedNotDurable.Count == 0) return;
        _flusher.Tell(new BlobFlusher.MakeDurable(_sealedNotDurable.ToArray()));
        _inFlight = _sealedNotDurable.Count;
        _sealedNotDurable.Clear();
    }

    private void OnBatchDone(BlobFlusher.BatchDone done)
    {
        _inFlight = 0;
        foreach (var (chunk, problem) in done.Results)
        {
            if (problem is null) _watermark.Tell(new Watermark.BlobDurable(chunk.Epoch, chunk.Position, chunk.Blob.FileId, chunk.InCopy));
            else Report(chunk, problem);
        }
        Flush(); // what was sealed meanwhile
        if (Held >= MaxSealedNotDurable) return;
        Become(Taking);
        Stash.UnstashAll();
    }

    private void Fail(SaveChunk chunk, string reason)
    {
        AbortCurrent();
        _failedFileId = chunk.Blob.FileId; // its later chunks are only acknowledged
        Report(chunk, reason);
    }

    private void Report(SaveChunk chunk, string reason)
    {
        _log.Warning("blob {0} of {1} {2} not saved: {3}", chunk.Blob.FileId, chunk.InCopy ? "copy position" : "sequence", chunk.Position, reason);
        _watermark.Tell(new Watermark.BlobFailed(chunk.Epoch, chunk.Position, chunk.Blob.FileId, reason, chunk.InCopy));
        Context.Parent.Tell(new SaveFailed(chunk.Epoch, chunk.Position, chunk.Blob.FileId, reason));
    }

    private void AbortCurrent()
    {
        _writer?.Dispose();
        _writer = null;
        _current = null;
    }

    protected override void PostStop()
    {
        // Sealed blobs not yet handed over are dropped (their temp files removed); a re-stream brings them again.
        AbortCurrent();
        foreach (var (_, writer) in _sealedNotDurable) writer.Dispose();
        _sealedNotDurable.Clear();
    }
}
