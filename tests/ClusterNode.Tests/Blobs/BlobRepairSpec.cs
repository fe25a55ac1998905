using ClusterNode.Tests.Replication;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Blobs;

/// <summary>
/// Blob repair between real nodes over Akka.Remote: a blob no member holds is lost on every node, comes back when a
/// member finds the bytes again, and a member that does not answer never makes a blob lost.
/// </summary>
public sealed class BlobRepairSpec : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private const string Table = "docs";
    private const string Field = "file";
    private const string FastRepair = "cluster-node.repair { timeout = 500ms, lost-retry-interval = 1s }";
    private readonly NodeSet _nodes;

    public BlobRepairSpec(ITestOutputHelper output) : base(output: output) => _nodes = new NodeSet("blob-repair", output);

    [Fact]
    public async Task A_blob_gone_from_every_member_is_lost_everywhere_and_repaired_when_a_member_has_its_bytes_again()
    {
        var a = _nodes.Start("a", FastRepair);
        var b = _nodes.Start("b", FastRepair);
        a.ConnectTo(b);
        b.ConnectTo(a);
        var bytes = TestData.Blob(1, 100_000);
        a.WriteRecordWithBlob(Table, "r", "{}", Field, bytes);
        await AwaitAssertAsync(() => Assert.Equal(bytes, b.ReadBlob(Table, "r", Field)), TimeSpan.FromSeconds(30));
        var blob = a.Store.Get(Table, "r")!.Blob(Field)!;

        File.Delete(a.Store.Blobs.PathOf(blob.FileId));
        File.Delete(b.Store.Blobs.PathOf(blob.FileId));
        a.Store.ReportDamagedBlob(Table, "r", blob, "deleted by the test");

        await AwaitAssertAsync(() =>
        {
            Assert.NotNull(a.Store.LostBlob(blob.FileId));
            Assert.NotNull(b.Store.LostBlob(blob.FileId)); // b learnt it lacked the blob when a asked for it
        }, TimeSpan.FromSeconds(30));

        // b's disk gives the file back (a restored backup, a remounted volume): both repair and forget the loss.
        await File.WriteAllBytesAsync(b.Store.Blobs.PathOf(blob.FileId), bytes);
        await AwaitAssertAsync(() =>
        {
            Assert.Null(b.Store.LostBlob(blob.FileId));
            Assert.Null(a.Store.LostBlob(blob.FileId));
            Assert.Equal(bytes, a.ReadBlob(Table, "r", Field));
        }, TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_member_that_does_not_answer_never_makes_a_blob_lost()
    {
        var a = _nodes.Start("a", FastRepair);
        var b = _nodes.Start("b", FastRepair);
        a.ConnectTo(b);
        await AwaitAssertAsync(async () => Assert.Single((await a.StatusAsync()).Peers), TimeSpan.FromSeconds(30));
        a.WriteRecordWithBlob(Table, "r", "{}", Field, TestData.Blob(2, 10_000));
        var blob = a.Store.Get(Table, "r")!.Blob(Field)!;
        await _nodes.Stop(b); // still a's peer, but silent

        File.Delete(a.Store.Blobs.PathOf(blob.FileId));
        a.Store.ReportDamagedBlob(Table, "r", blob, "deleted by the test");

        // Three rounds of asking, each timing out, must not conclude that no member holds it.
        await AwaitAssertAsync(async () => Assert.True((await a.StatusAsync()).Repair!.Unanswered >= 3), TimeSpan.FromSeconds(30));
        Assert.Null(a.Store.LostBlob(blob.FileId));
        Assert.Equal(0, (await a.StatusAsync()).Repair!.Lost);
    }

    [Fact]
    public async Task A_file_that_rotted_at_its_origin_is_noticed_by_the_stream_that_sends_it_and_repaired_from_another_member()
    {
        var a = _nodes.Start("a", FastRepair);
        var c = _nodes.Start("c", FastRepair);
        c.ConnectTo(a);
        a.ConnectTo(c);
        var bytes = TestData.Blob(3, 200_000);
        a.WriteRecordWithBlob(Table, "r", "{}", Field, bytes);
        await AwaitAssertAsync(() => Assert.Equal(bytes, c.ReadBlob(Table, "r", Field)), TimeSpan.FromSeconds(30));
        var blob = a.Store.Get(Table, "r")!.Blob(Field)!;
        await File.WriteAllBytesAsync(a.Store.Blobs.PathOf(blob.FileId), TestData.Blob(4, 200_000)); // same size, other bytes

        // A new follower streams from a alone: a sends the rotten bytes once, notices, and repairs its file from c; b
        // refuses those bytes (their sha256 is wrong) and ends with the right ones.
        var b = _nodes.Start("b", FastRepair);
        b.ConnectTo(a);
        await AwaitAssertAsync(() =>
        {
            Assert.Equal(bytes, a.ReadBlob(Table, "r", Field));
            Assert.Equal(bytes, b.ReadBlob(Table, "r", Field));
        }, TimeSpan.FromSeconds(30));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await _nodes.DisposeAsync();
}
