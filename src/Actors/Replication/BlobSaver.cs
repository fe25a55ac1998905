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
        Akka.Actor.Props.Create(() => new BlobSaverActor(blobs, watermark, durability, ioDispatcher)).WithDispatcher(ioDispatcher);

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
