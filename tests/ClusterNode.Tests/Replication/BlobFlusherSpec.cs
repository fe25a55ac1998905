using ClusterNode.Actors;
using ClusterNode.Actors.Replication;
using ClusterNode.Persistence.Blobs;
using ClusterNode.Persistence.Records;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Replication;

/// <summary>
/// The flusher answers for every blob of a batch whatever fails, not only I/O errors: a batch left unanswered would
/// stop its saver from ever flushing again and freeze the peer's cursor with no error shown.
/// </summary>
public sealed class BlobFlusherSpec : Akka.TestKit.Xunit2.TestKit
{
    private readonly string _dir = TestData.TempDirectory("flusher");

    public BlobFlusherSpec(ITestOutputHelper output) : base(Akka.Configuration.ConfigurationFactory.Empty.WithDefaults(), "flusher-spec", output) { }

    [Theory]
    [InlineData(BlobDurability.Fsync)]
    [InlineData(BlobDurability.Syncfs)]
    public void A_blob_that_fails_with_any_exception_is_answered_as_failed_and_the_rest_of_the_batch_is_answered_too(BlobDurability durability)
    {
        var blobs = new BlobStore(Path.Combine(_dir, durability.ToString()));
        var good = blobs.BeginWrite();
        good.Append(TestData.Blob(1, 5000));
        var goodRef = good.Seal("f", BlobStore.NewFileId());
        // Not sealed: making it durable throws InvalidOperationException, as an unexpected failure of the disk layer would.
        var bad = blobs.BeginWrite();
        bad.Append(TestData.Blob(2, 5000));
        var badRef = new BlobRef("g", BlobStore.NewFileId(), 5000, new byte[32]);
        var flusher = Sys.ActorOf(BlobFlusher.Props(blobs, durability, "cluster-node.io-dispatcher"));

        flusher.Tell(new BlobFlusher.MakeDurable([(Chunk(goodRef), good), (Chunk(badRef), bad)]), TestActor);

        var done = ExpectMsg<BlobFlusher.BatchDone>(TimeSpan.FromSeconds(10));
        Assert.Equal(2, done.Results.Count);
        Assert.NotNull(done.Results.Single(r => r.Chunk.Blob.FileId == badRef.FileId).Problem);
        var goodResult = done.Results.Single(r => r.Chunk.Blob.FileId == goodRef.FileId);
        // A good blob is either durable and in place, or reported failed (then re-streamed): never silently lost.
        Assert.True(goodResult.Problem is not null || blobs.IsPresent(goodRef), "the good blob was neither placed nor reported failed");
        if (durability == BlobDurability.Fsync) Assert.Null(goodResult.Problem);
    }

    private static BlobSaver.SaveChunk Chunk(BlobRef blob) => new(1, 1, blob, 0, [], 0);

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
