using Akka.Actor;

namespace ClusterNode.Actors.Watermarks;

/// <summary>
/// Protocol of the watermark actor of one peer: it gathers commits from the receiver and blob outcomes from
/// the blob saver, keeps the <see cref="DurabilityWatermark"/>, forwards the durable point to the cursor
/// store and reports it to the receiver for the receipt to the peer. Nothing here ever waits on anything.
/// </summary>
public static class Watermark
{
    /// <param name="cursorStoreProps">The cursor store to run as a child (see <see cref="CursorStore.Props"/>).</param>
    public static Props Props(string peerNodeId, Props cursorStoreProps, TimeSpan restartBackoff) =>
        Akka.Actor.Props.Create(() => new WatermarkActor(peerNodeId, cursorStoreProps, restartBackoff));

    public interface ICommand;

    /// <summary>The receiver committed <paramref name="Sequence"/>; these blobs of it are still to be saved.</summary>
    public sealed record Committed(long Epoch, long Sequence, IReadOnlyList<string> BlobsToCome) : ICommand;

    /// <summary>
    /// The receiver applied a frame of the peer's log: every sequence up to <paramref name="UpToSequence"/> is committed,
    /// and the records in <paramref name="WithBlobs"/> (in sequence order, none above <paramref name="UpToSequence"/>)
    /// still wait for those blobs. One message per frame however many records it holds: a record without blobs to come
    /// changes nothing in the watermark but its committed sequence.
    /// </summary>
    public sealed record FrameCommitted(long Epoch, long UpToSequence, IReadOnlyList<Committed> WithBlobs) : ICommand;

    /// <summary>
    /// The blob saver made a blob durable. <paramref name="Position"/> is its record's place in the stream: a log
    /// sequence, or a copy position when <paramref name="InCopy"/>.
    /// </summary>
    public sealed record BlobDurable(long Epoch, long Position, string FileId, bool InCopy = false) : ICommand;

    /// <summary>The blob saver could not save a blob (whatever the error: every failure is reported as this).</summary>
    public sealed record BlobFailed(long Epoch, long Position, string FileId, string Reason, bool InCopy = false) : ICommand;

    /// <summary>The peer began copying its records to this node; the stream resumes at <paramref name="CopyStart"/> + 1 after.</summary>
    public sealed record CopyBegan(long Epoch, long CopyStart) : ICommand;

    /// <summary>The receiver committed the copied record at copy position <paramref name="Position"/> (its place in this epoch's copy), key <paramref name="Key"/>.</summary>
    public sealed record CopyCommitted(long Epoch, long Position, byte[] Key, IReadOnlyList<string> BlobsToCome) : ICommand;

    /// <summary>The receiver committed a copy frame's records, in copy-position order: one message per frame.</summary>
    public sealed record CopyFrameCommitted(long Epoch, IReadOnlyList<CopyCommitted> Records) : ICommand;

    /// <summary>The copy sent its last record, at <paramref name="LastPosition"/>; the audit log follows from the copy's start.</summary>
    public sealed record CopyDone(long Epoch, long LastPosition) : ICommand;

    /// <summary>
    /// The peer answered its hub's check as incarnation <paramref name="IncarnationId"/>. Another incarnation than the
    /// cursor's, or a log that went back below the cursor (<paramref name="LogWentBack"/>: restored from an older copy),
    /// means the peer's log started over: the cursor goes back to 0 and the receiver is told <see cref="PeerLogStartedOver"/>.
    /// </summary>
    public sealed record PeerIdentified(string IncarnationId, bool LogWentBack) : ICommand;

    /// <summary>To the receiver: the cursor is on the journal at <paramref name="Sequence"/> (the hub tells the peer).</summary>
    public sealed record CursorPersisted(long Sequence);

    /// <summary>To the receiver: the cursor went back to 0 for a new incarnation of the peer; start the stream over.</summary>
    public sealed record PeerLogStartedOver(string IncarnationId);

    /// <summary>The receiver starts a new subscription; answered with <see cref="ResumeFrom"/>.</summary>
    public sealed record BeginEpoch(long Epoch) : ICommand;

    public sealed record GetStatus : ICommand
    {
        public static readonly GetStatus Instance = new();
    }

    /// <summary>
    /// Subscribe from <paramref name="Sequence"/> + 1: everything up to it is durable. During a copy,
    /// <paramref name="CopyStart"/> is not 0 and the copy resumes after <paramref name="CopyAfterKey"/>.
    /// </summary>
    public sealed record ResumeFrom(long Epoch, long Sequence, long CopyStart = 0, byte[]? CopyAfterKey = null);

    /// <summary>The watermark moved; the receiver sends the peer a receipt of <paramref name="Durable"/>.</summary>
    public sealed record Advanced(long Epoch, long Committed, long Durable);

    public sealed record WatermarkStatus(
        string Peer,
        long Committed,
        long Durable,
        long PersistedCursor,
        int OutstandingBlobs,
        int FailedBlobs,
        long BlobGap,
        bool Copying = false,
        byte[]? PersistedCopyKey = null);
}
