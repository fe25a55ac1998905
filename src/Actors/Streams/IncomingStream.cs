using System.Collections.Immutable;
using ClusterNode.Actors.Replication;
using ClusterNode.Actors.Watermarks;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Actors.Streams;

/// <summary>
/// The rules of one peer's stream as a follower receives it, as a pure state machine: given the next message, it
/// says what to apply, which chunks are due, or why the message is refused, and it never does I/O itself (the
/// receiver applies records to the store and hands chunks to the saver). One subscription (epoch) per instance.
///
/// <para>Positions: a record frame continues the peer's log at <see cref="Committed"/> (a log sequence); a copy
/// frame continues the copy at <see cref="CopyProgress.Position"/> (a copy position, counted from 1 in each
/// epoch's copy). Anything that does not continue exactly where the follower is proves that a message was lost,
/// duplicated or reordered in transit; it is refused and the leg starts over from <c>durable</c>.</para>
/// </summary>
public sealed record IncomingStream
{
    private IncomingStream(long epoch, long committed)
    {
        Epoch = epoch;
        Committed = committed;
        SubscribedFrom = committed;
    }

    public long Epoch { get; }

    /// <summary>Where this subscription began: a copy may only start before the log has moved from here.</summary>
    public long SubscribedFrom { get; }

    /// <summary>The last log sequence of the peer applied in this epoch (or skipped as carrying nothing for us).</summary>
    public long Committed { get; private init; }

    /// <summary>The copy under way, or null while the peer streams its log.</summary>
    public CopyProgress? Copy { get; private init; }

    /// <summary>A copy was finished in this epoch: no other copy may start in it.</summary>
    public bool CopyFinished { get; private init; }

    /// <summary>Blobs whose chunks are due next, in stream order; the head is the one being received.</summary>
    public ImmutableQueue<DueBlob> DueBlobs { get; private init; } = ImmutableQueue<DueBlob>.Empty;

    /// <summary>Bytes of the head of <see cref="DueBlobs"/> received so far: where its next chunk must start.</summary>
    public long DueBlobReceived { get; private init; }

    /// <summary>Bytes of this epoch received, and handled (applied, written or skipped): credit is the latter.</summary>
    public long ReceivedBytes { get; private init; }

    public long HandledBytes { get; private init; }

    /// <summary>Bytes received and not yet handled: while any, the stream waits on this node, not on the peer.</summary>
    public long UnhandledBytes => ReceivedBytes - HandledBytes;

    public bool Copying => Copy is not null;

    private bool TryPeekDue(out DueBlob due)
    {
        due = DueBlobs.IsEmpty ? null! : DueBlobs.Peek();
        return !DueBlobs.IsEmpty;
    }

    /// <summary>A subscription from <paramref name="committed"/>: the first record frame continues after it.</summary>
    public static IncomingStream Begin(long epoch, long committed) => new(epoch, committed);

    public IncomingStream Heard(long costBytes) => this with { ReceivedBytes = ReceivedBytes + costBytes };

    /// <summary>Bytes handled here; the credit to return is the new <see cref="HandledBytes"/>.</summary>
    public IncomingStream Handled(long costBytes) => this with { HandledBytes = HandledBytes + costBytes };

    /// <summary>
    /// Checks a record frame against where the stream is, and decodes it with every check of
    /// <see cref="RecordFrameCodec.Decode"/>. Nothing changes until <see cref="Applied"/>.
    /// </summary>
    public FrameCheck Check(RecordFrame frame, int maxFramePayloadBytes)
    {
        var what = $"frame up to {frame.UpToSequence}";
        if (TryPeekDue(out var due))
            return FrameCheck.Gap($"{what} arrived while blob(s) of sequence {due.Position} were still due: chunks were lost in transit");
        if (Copy is not null)
            return FrameCheck.Gap($"{what} arrived before the copy that began at {Copy.CopyStart} was done: its last frame was lost in transit");
        if (frame.AfterSequence != Committed)
            return FrameCheck.Gap($"frame after {frame.AfterSequence} does not continue where this follower is ({Committed}): a frame was lost or reordered in transit");
        if (frame.UpToSequence < frame.AfterSequence)
            return Refuse($"{what} ends before it begins (after {frame.AfterSequence})");
        return Decode(frame.Payload, frame.RecordCount, Committed, frame.UpToSequence, maxFramePayloadBytes, what, new FrameAccepted(frame.UpToSequence, null, false, []));
    }

    /// <summary>Checks a copy frame: the first of an epoch begins the copy, every later one continues it exactly.</summary>
    public FrameCheck Check(CopyFrame frame, int maxFramePayloadBytes)
    {
        if (TryPeekDue(out var due))
            return FrameCheck.Gap($"copy frame arrived while blob(s) of copy position {due.Position} were still due: chunks were lost in transit");
        var position = Copy?.Position ?? 0;
        if (frame.AfterPosition != position)
            return FrameCheck.Gap($"copy frame after position {frame.AfterPosition} does not continue where this copy is ({position}): a frame was lost or reordered in transit");
        if (Copy is null && (CopyFinished || Committed != SubscribedFrom || frame.CopyStart < 0 || frame.CopyStart > RecordFrameCodec.MaxSequence))
            return Refuse($"copy frame (start {frame.CopyStart}) arrived after this subscription's log or copy had begun");
        if (Copy is not null && frame.CopyStart != Copy.CopyStart)
            return Refuse($"copy frame names copy start {frame.CopyStart}, but this copy began at {Copy.CopyStart}");
        return Decode(frame.Payload, frame.RecordCount, position, RecordFrameCodec.MaxSequence, maxFramePayloadBytes, "copy frame",
            new FrameAccepted(0, frame.CopyStart, frame.Done, []));
    }

    /// <summary>
    /// Checks frames that arrived together, each against the stream as it will be once the ones before it are applied,
    /// so the receiver can apply them all in one transaction. Stops at the first refused frame: the frames before it
    /// are accepted and may still be applied. Where a frame leaves blobs due, the next frame is refused as a gap, as
    /// it would be alone (their chunks come between), so a group never holds a frame after one whose chunks are due.
    /// Nothing changes until <see cref="Applied"/> is called for each accepted frame, in order.
    /// </summary>
    public (IReadOnlyList<FrameAccepted> Accepted, FrameRefused? Refused) CheckGroup(IReadOnlyList<object> frames, int maxFramePayloadBytes)
    {
        var accepted = new List<FrameAccepted>(frames.Count);
        var stream = this;
        foreach (var frame in frames)
        {
            var check = frame switch
            {
                RecordFrame record => stream.Check(record, maxFramePayloadBytes),
                CopyFrame copy => stream.Check(copy, maxFramePayloadBytes),
                _ => throw new ArgumentException($"not a frame: {frame.GetType().Name}", nameof(frames)),
            };
            if (check is FrameRefused refused) return (accepted, refused);
            var ok = (FrameAccepted)check;
            accepted.Add(ok);
            // Where the stream will be: which blobs this node lacks changes what is saved, never where the stream is.
            if (accepted.Count < frames.Count) stream = stream.Applied(ok, NothingToSave(ok.Records.Count), 0).Next;
        }
        return (accepted, null);
    }

    private static IReadOnlyList<IReadOnlyCollection<string>> NothingToSave(int count)
    {
        var none = new IReadOnlyCollection<string>[count];
        Array.Fill(none, []);
        return none;
    }

    private static FrameCheck Decode(byte[] payload, int count, long after, long upTo, int maxFramePayloadBytes, string what, FrameAccepted accepted)
    {
        if (payload.Length > maxFramePayloadBytes)
            return Refuse($"{what} of {payload.Length} bytes is over the limit of {maxFramePayloadBytes}");
        try
        {
            // What the format can hold, not this node's own record.max-size and blob.max-size: those gate local
            // writes (tightened to every member's), and a record a peer took before it met this node must not stall
            // the stream for good.
            return accepted with { Records = RecordFrameCodec.Decode(payload, count, after, upTo, RecordLimits.Format.MaxDataBytes, RecordLimits.Format.MaxBlobBytes) };
        }
        catch (FormatException e)
        {
            return Refuse(e.Message);
        }
    }

    private static FrameRefused Refuse(string reason) => new(reason, LostInTransit: false);

    /// <summary>
    /// The accepted frame's records are in the store; <paramref name="blobsToSave"/> names, per record, the blobs this
    /// node lacks. Returns the next state, what the watermark is told (in order), and the blobs that no chunk of this
    /// stream will bring (the peer lacked them too) and that must be awaited from elsewhere.
    /// </summary>
    public AppliedFrame Applied(FrameAccepted frame, IReadOnlyList<IReadOnlyCollection<string>> blobsToSave, long costBytes)
    {
        var records = frame.Records;
        var inCopy = frame.CopyStart is not null;
        var due = DueBlobs;
        var awaited = new List<AwaitedBlob>();
        // One message to the watermark per frame (a few around a copy's start and end), not one per record.
        var toWatermark = new List<Watermark.ICommand>(3);
        var withBlobs = new List<Watermark.Committed>();
        var copied = inCopy ? new List<Watermark.CopyCommitted>(records.Count) : null;
        var copy = Copy;
        if (inCopy && copy is null)
        {
            copy = new CopyProgress(frame.CopyStart!.Value, 0);
            toWatermark.Add(new Watermark.CopyBegan(Epoch, copy.CopyStart));
        }
        for (var i = 0; i < records.Count; i++)
        {
            var (position, record, unavailable) = records[i];
            var save = blobsToSave[i];
            foreach (var blob in record.Blobs)
            {
                var needed = save.Contains(blob.FileId);
                // The sender streams every blob it has; this node keeps only the ones it lacks. One the sender
                // lacks too is looked for in the blob store until another stream has brought it.
                if (!unavailable.Contains(blob.FileId)) due = due.Enqueue(new DueBlob(position, blob, needed, inCopy));
                else if (needed) awaited.Add(new AwaitedBlob(Epoch, position, record.Table, record.Id, blob, inCopy));
            }
            IReadOnlyList<string> blobs = save.Count == 0 ? [] : save.ToArray();
            if (copied is not null) copied.Add(new Watermark.CopyCommitted(Epoch, position, RecordCodec.Key(record.Table, record.Id), blobs));
            else if (blobs.Count > 0) withBlobs.Add(new Watermark.Committed(Epoch, position, blobs));
        }

        var next = this with { DueBlobs = due, HandledBytes = HandledBytes + costBytes };
        if (inCopy)
        {
            if (copied!.Count > 0) toWatermark.Add(new Watermark.CopyFrameCommitted(Epoch, copied));
            copy = records.Count > 0 ? copy! with { Position = records[^1].Sequence } : copy!;
            if (frame.CopyDone)
            {
                toWatermark.Add(new Watermark.CopyDone(Epoch, copy.Position));
                // The audit log follows from where the copy began.
                next = next with { Copy = null, CopyFinished = true, Committed = copy.CopyStart };
            }
            else
            {
                next = next with { Copy = copy };
            }
        }
        else
        {
            // Up to the frame's end, past entries after its last record that this follower does not receive: a
            // sequence update with no data. A heartbeat that moves nothing tells the watermark nothing.
            if (frame.UpToSequence > Committed) toWatermark.Add(new Watermark.FrameCommitted(Epoch, frame.UpToSequence, withBlobs));
            next = next with { Committed = frame.UpToSequence };
        }
        return new AppliedFrame(next, toWatermark, awaited);
    }

    /// <summary>
    /// Checks a chunk against the blob due next: the right blob, at the right offset, within its size. Its bytes are
    /// saved when this node lacks the blob; otherwise the chunk is only credited.
    /// </summary>
    public ChunkCheck Check(BlobChunk chunk, int maxChunkBytes)
    {
        if (!TryPeekDue(out var due))
            return new ChunkRefused($"chunk of blob {chunk.FileId} arrived when no blob was due", LostInTransit: true);
        if (chunk.FileId != due.Blob.FileId || chunk.Position != due.Position || chunk.Offset != DueBlobReceived)
            return new ChunkRefused($"chunk of blob {chunk.FileId} (position {chunk.Position}, offset {chunk.Offset}) arrived where blob {due.Blob.FileId} (position {due.Position}, offset {DueBlobReceived}) was due", LostInTransit: true);
        var end = chunk.Offset + chunk.Bytes.Length;
        if (end > due.Blob.Size || (chunk.Bytes.Length == 0 && due.Blob.Size != 0) || chunk.Bytes.Length > maxChunkBytes)
            return new ChunkRefused($"chunk of blob {chunk.FileId} with {chunk.Bytes.Length} bytes at offset {chunk.Offset} does not fit its size {due.Blob.Size}", LostInTransit: false);
        var next = end == due.Blob.Size ? this with { DueBlobs = DueBlobs.Dequeue(), DueBlobReceived = 0 } : this with { DueBlobReceived = end };
        return new ChunkAccepted(next, due, due.Save);
    }
}

/// <summary>A copy under way in this epoch: where it began in the peer's log, and the last copy position received.</summary>
public sealed record CopyProgress(long CopyStart, long Position);

/// <summary>A blob whose chunks are due, at the stream position of its record; <see cref="Save"/>: this node lacks it.</summary>
public sealed record DueBlob(long Position, BlobRef Blob, bool Save, bool InCopy);

/// <summary>A blob the sender did not have: its bytes reach this node through another stream (its origin's).</summary>
public sealed record AwaitedBlob(long Epoch, long Position, string Table, string Id, BlobRef Blob, bool InCopy);

public abstract record FrameCheck
{
    public static FrameRefused Gap(string reason) => new(reason, LostInTransit: true);
}

/// <summary>
/// Nothing of the frame is applied. <paramref name="LostInTransit"/>: the stream has a gap (lost, duplicated or
/// reordered messages: expected on an at-most-once transport); otherwise the peer sent bad input.
/// </summary>
public sealed record FrameRefused(string Reason, bool LostInTransit) : FrameCheck;

/// <summary>
/// Apply these records (one transaction). <paramref name="CopyStart"/> is set for a copy frame; a record frame tells
/// the follower that the peer's log holds nothing else for it up to <paramref name="UpToSequence"/>.
/// </summary>
public sealed record FrameAccepted(long UpToSequence, long? CopyStart, bool CopyDone, IReadOnlyList<ReplicatedRecord> Records) : FrameCheck;

public sealed record AppliedFrame(IncomingStream Next, IReadOnlyList<Watermark.ICommand> ToWatermark, IReadOnlyList<AwaitedBlob> Awaited);

public abstract record ChunkCheck;

/// <summary>Nothing of the chunk is taken. <paramref name="LostInTransit"/>: out of order (a message lost, duplicated or reordered).</summary>
public sealed record ChunkRefused(string Reason, bool LostInTransit) : ChunkCheck;

/// <summary>The chunk continues <paramref name="Blob"/>; <paramref name="Save"/>: write it, else credit it at once.</summary>
public sealed record ChunkAccepted(IncomingStream Next, DueBlob Blob, bool Save) : ChunkCheck;
