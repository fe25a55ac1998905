using Akka.Actor;
using ClusterNode.Persistence.Blobs;
using static ClusterNode.Actors.Replication.BlobFlusher;

namespace ClusterNode.Actors.Replication;

/// <summary>
/// Makes a batch of sealed blobs durable on the I/O dispatcher: first their bytes (one syncfs for the whole batch,
/// or one fsync each), then each is renamed into place, so a reader sees a blob whole or not at all, and the
/// directory is fsynced once for the whole batch.
/// </summary>
internal sealed class BlobFlusherActor : ReceiveActor
{
    public BlobFlusherActor(BlobStore blobs, BlobDurability durability)
    {
        Receive<MakeDurable>(make => Sender.Tell(new BatchDone(Answer(blobs, durability, make.Batch))));
    }

    /// <summary>
    /// Every blob of the batch gets an answer whatever fails (a rename refused for permissions throws no
    /// IOException): a batch left unanswered would stop its saver from ever flushing again, and freeze the cursor.
    /// </summary>
    private static IReadOnlyList<(BlobSaver.SaveChunk Chunk, string? Problem)> Answer(
        BlobStore blobs, BlobDurability durability, IReadOnlyList<(BlobSaver.SaveChunk Chunk, BlobWriter Writer)> batch)
    {
        try
        {
            return MakeBatchDurable(blobs, durability, batch);
        }
        catch (Exception e)
        {
            foreach (var (_, writer) in batch) writer.Dispose();
            return batch.Select(item => (item.Chunk, (string?)$"making the batch durable failed: {e.Message}")).ToArray();
        }
    }

    private static IReadOnlyList<(BlobSaver.SaveChunk Chunk, string? Problem)> MakeBatchDurable(
        BlobStore blobs, BlobDurability durability, IReadOnlyList<(BlobSaver.SaveChunk Chunk, BlobWriter Writer)> batch)
    {
        var problems = new string?[batch.Count];
        SyncData(blobs, durability, batch, problems);
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
            catch (Exception e)
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
            catch (Exception e)
            {
                for (var i = 0; i < batch.Count; i++) problems[i] ??= $"directory fsync failed: {e.Message}";
            }
        }
        return batch.Select((item, i) => (item.Chunk, problems[i])).ToArray();
    }

    private static void SyncData(BlobStore blobs, BlobDurability durability, IReadOnlyList<(BlobSaver.SaveChunk Chunk, BlobWriter Writer)> batch, string?[] problems)
    {
        if (durability == BlobDurability.Syncfs)
        {
            try
            {
                blobs.SyncFileSystem();
                foreach (var (_, writer) in batch) writer.DataSynced();
            }
            catch (Exception e)
            {
                Array.Fill(problems, $"syncfs failed: {e.Message}");
            }
            return;
        }
        for (var i = 0; i < batch.Count; i++)
        {
            try { batch[i].Writer.FlushToDisk(); }
            catch (Exception e) { problems[i] = $"fsync failed: {e.Message}"; }
        }
    }
}
