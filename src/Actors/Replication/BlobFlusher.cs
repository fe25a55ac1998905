using Akka.Actor;
using ClusterNode.Persistence.Blobs;

namespace ClusterNode.Actors.Replication;

/// <summary>
/// Protocol of the blob flusher, the blob saver's child that makes batches of sealed blobs durable (fsync each,
/// rename into place, fsync the directory once) while the saver goes on writing the next chunks, so the network
/// and the disk's fsyncs overlap instead of taking turns.
/// </summary>
internal static class BlobFlusher
{
    public static Props Props(BlobStore blobs, BlobDurability durability, string ioDispatcher) =>
        Akka.Actor.Props.Create(() => new BlobFlusherActor(blobs, durability)).WithDispatcher(ioDispatcher);

    /// <summary>Sealed blobs to make durable; the flusher owns (and disposes) their writers from now on.</summary>
    public sealed record MakeDurable(IReadOnlyList<(BlobSaver.SaveChunk Chunk, BlobWriter Writer)> Batch);

    /// <summary>What became of each blob of a batch: durable, or the reason it is not.</summary>
    public sealed record BatchDone(IReadOnlyList<(BlobSaver.SaveChunk Chunk, string? Problem)> Results);
}
