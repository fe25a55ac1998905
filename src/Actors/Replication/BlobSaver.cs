using Akka.Actor;
using ClusterNode.Persistence.Blobs;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Actors.Replication;

/// <summary>
/// Protocol of the blob saver of one peer's stream: it writes the chunks the receiver hands it, seals each blob
/// (size and sha256 checked, fsync, rename), fsyncs the directory once for all blobs sealed together, and tells
/// the watermark which blobs became durable or failed.
/// </summary>
public static class BlobSaver
{
    public static Props Props(BlobStore blobs, IActorRef watermark, BlobDurability durability, string ioDispatcher) =>
        Props(blobs, watermark, BlobFlusher.Props(blobs, durability, ioDispatcher), ioDispatcher);

    /// <summary>A saver over another flusher: a test seam (a slow disk).</summary>
    internal static Props Props(BlobStore blobs, IActorRef watermark, Props flusher, string ioDispatcher) =>
        Akka.Actor.Props.Create(() => new BlobSaverActor(blobs, watermark, flusher)).WithDispatcher(ioDispatcher);

    /// <summary>
    /// The most sealed blobs not yet durable one saver holds, the batch being flushed included: each keeps a temp file
    /// open (a file descriptor and its writer) until its batch is placed. Reached, the saver takes no chunk (so their
    /// credit stays out and the peer's window stops it) until the flush in flight answers. 64 per peer stays far
    /// below a process's file descriptors with several peers, and a batch that large amortises its syncfs and
    /// directory fsync as well as a frame's worth of blobs (at most 64) does.
    /// </summary>
    public const int MaxSealedNotDurable = 64;

    public interface ICommand;

    /// <summary>A chunk of <paramref name="Blob"/> at <paramref name="Offset"/>; the receiver checked order and bounds.</summary>
    /// <param name="InCopy"><paramref name="Position"/> is a copy position, not a log sequence.</param>
    public sealed record SaveChunk(long Epoch, long Position, BlobRef Blob, long Offset, byte[] Bytes, long CostBytes, bool InCopy = false) : ICommand
    {
        public bool IsLast => Offset + Bytes.Length == Blob.Size;
    }

    /// <summary>A new subscription began: drop any blob of an earlier one that is half written.</summary>
    public sealed record ResetEpoch(long Epoch) : ICommand;

    /// <summary>To the receiver: a chunk was written (not yet durable), so its bytes may be credited.</summary>
    public sealed record ChunkWritten(long Epoch, long CostBytes);

    /// <summary>To the receiver: a blob could not be saved, so the stream must be repaired.</summary>
    public sealed record SaveFailed(long Epoch, long Position, string FileId, string Reason);
}
