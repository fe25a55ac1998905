using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Replication;

/// <summary>
/// Three real nodes: records reach a node both from their origin and forwarded by another node. A node that
/// forwards a record whose blob it does not hold yet must not hold back what comes after it, and the follower
/// must neither count that blob durable before its bytes arrive nor wait for them from the forwarder.
/// </summary>
public sealed class ThreeNodeReplicationSpec : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private const string Table = "docs";
    private const string Field = "file";
    private readonly ITestOutputHelper _output;
    private readonly NodeSet _nodes;

    public ThreeNodeReplicationSpec(ITestOutputHelper output) : base(output: output)
    {
        _output = output;
        _nodes = new NodeSet("three-node", output);
    }

    [Fact]
    public async Task A_record_forwarded_without_its_blob_must_not_hold_back_later_writes_nor_pass_the_cursor()
    {
        var a = _nodes.Start("a");
        // B never manages to save a blob from A: it holds A's record, but not its bytes.
        var b = _nodes.Start("b", "cluster-node.fault-injection.blob-save { skip = 0, fail-count = 1000000 }");
        var c = _nodes.Start("c");
        b.ConnectTo(a);

        a.WriteRecordWithBlob(Table, "from-a", """{"by":"a"}""", Field, TestData.Blob(1, 40_000));
        await AwaitAssertAsync(() =>
        {
            Assert.NotNull(b.Store.Get(Table, "from-a"));
            return Task.CompletedTask;
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
        Assert.Null(b.ReadBlob(Table, "from-a", Field));
        var lastOfB = b.WriteRecordWithBlob(Table, "from-b", """{"by":"b"}""", Field, TestData.Blob(2, 40_000));

        // C hears only from B: B's own write gets through although the record before it lacks its bytes at B.
        c.ConnectTo(b);
        await AwaitAssertAsync(() =>
        {
            Assert.Equal(TestData.Blob(2, 40_000), c.ReadBlob(Table, "from-b", Field));
            return Task.CompletedTask;
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
        Assert.NotNull(c.Store.Get(Table, "from-a"));
        Assert.Null(c.ReadBlob(Table, "from-a", Field));
        var held = (await c.PeerStatusAsync(b))!;
        _output.WriteLine($"C's stream from B while A's blob is missing: {held}");
        Assert.True(held.PersistedCursor < lastOfB, "the cursor must stay below the record whose blob C does not have");

        // C now hears from A too: the bytes arrive from their origin, and C's cursor for B moves on.
        c.ConnectTo(a);
        await AwaitAssertAsync(async () =>
        {
            Assert.Equal(TestData.Blob(1, 40_000), c.ReadBlob(Table, "from-a", Field));
            Assert.Equal(lastOfB, (await c.PeerStatusAsync(b))!.PersistedCursor);
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await _nodes.DisposeAsync();
}
