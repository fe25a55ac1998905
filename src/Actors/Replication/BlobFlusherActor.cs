using Akka.Actor;
using ClusterNode.Persistence.Blobs;
using static ClusterNode.Actors.Replication.BlobFlusher;

namespace ClusterNode.Actors.Replication;

/// <summary>
/// Makes a batch of sealed blobs durable on the I/O dispatcher: their fsyncs are issued at once (the file
/// system can commit them in one journal transaction), each is renamed into place only after its own fsync, so
/// a reader sees a blob whole or not at all, and the directory is fsynced once for the whole batch.
/// </summary>
internal sealed class BlobFlusherActor : ReceiveActor
{
    /// <summary>fsyncs in flight at once; bounded because they hold threads of the shared pool while they wait.</summary>
    private const int MaxConcurrentFsyncs = 4;

    public BlobFlusherActor(BlobStore blobs)
    {
        Receive<MakeDurable>(make => Sender.Tell(new BatchDone(MakeBatchDurable(blobs, make.Batch))));
    }

    private static IReadOnlyList<(BlobSaver.SaveChunk Chunk, string? Problem)> MakeBatchDurable(
        BlobStore blobs, IReadOnlyList<(BlobSaver.SaveChunk Chunk, BlobWriter Writer)> batch)
    {
        var problems = new string?[batch.Count];
        Parallel.For(0, batch.Count, new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentFsyncs }, i =>
        {
            try { batch[i].Writer.FlushToDisk(); }
            catch (IOException e) { problems[i] = $"fsync failed: {e.Message}"; }
        });
        var anyPlaced = false;
        for (var i = 0; i < batch.Count; i++)
        {
            using var writer = batch[i].Writer; // disposing an unplaced writer deletes its temp file
            if (problems[i] is not null) continue;
            try
            {
                writer.Place();
                anyPlaced = true;
            }
            catch (IOException e)
            {
                problems[i] = $"rename failed: {e.Message}";
            }
        }
        if (anyPlaced)
        {
            try
            {
                blobs.SyncDirectory();
            }
            catch (IOException e)
            {
                for (var i = 0; i < batch.Count; i++) problems[i] ??= $"directory fsync failed: {e.Message}";
            }
        }
        return batch.Select((item, i) => (item.Chunk, problems[i])).ToArray();
    }
}
