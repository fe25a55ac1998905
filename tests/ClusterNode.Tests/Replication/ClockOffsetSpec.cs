using ClusterNode.Persistence.Records;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Replication;

/// <summary>
/// Two real nodes over Akka.Remote, one of them with its wall clock two days fast (as libfaketime would make it):
/// the fast node stops taking writes once it has measured its peer's clock, the other keeps taking them, and what
/// the fast node wrote before it knew flows to its peer instead of stalling the stream.
/// </summary>
public sealed class ClockOffsetSpec : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);
    private readonly NodeSet _nodes;

    public ClockOffsetSpec(ITestOutputHelper output) : base(output: output) => _nodes = new NodeSet("clock", output);

    [Fact]
    public async Task A_node_whose_clock_is_days_fast_refuses_writes_and_its_earlier_writes_still_reach_its_peer()
    {
        const string fastCheck = "cluster-node.replication.peer-check-interval = 200ms";
        var a = _nodes.Start("a", fastCheck);
        var b = _nodes.Start("b", fastCheck, () => DateTimeOffset.UtcNow.AddDays(2).ToUnixTimeMilliseconds());
        // Alone, B cannot know its clock is wrong: it takes a write, versioned two days ahead.
        b.WriteRecordWithBlob("docs", "early", """{"from":"b"}""", "file", TestData.Blob(1, 10_000));

        a.ConnectTo(b);
        b.ConnectTo(a);

        await AwaitAssertAsync(async () =>
        {
            var status = await b.StatusAsync();
            Assert.Contains("ahead", status.WriteRefusal);
            Assert.Contains("cluster-node.clock.max-offset", status.WriteRefusal);
        }, Patience, Poll);
        Assert.Throws<WritesRefusedException>(() => b.Store.PutData("docs", "late", """{"refused":true}"""u8.ToArray()));
        Assert.Null((await a.StatusAsync()).WriteRefusal);

        // The node whose clock is right keeps taking writes, and both streams flow.
        a.WriteRecordWithBlob("docs", "from-a", """{"from":"a"}""", "file", TestData.Blob(2, 10_000));
        await AwaitAssertAsync(async () =>
        {
            Assert.Equal(b.Store.LastSequence, (await a.PeerStatusAsync(b))?.PersistedCursor);
            Assert.Equal(a.Store.LastSequence, (await b.PeerStatusAsync(a))?.PersistedCursor);
        }, Patience, Poll);
        Assert.Equal(TestData.Blob(1, 10_000), a.ReadBlob("docs", "early", "file"));
        Assert.Equal(TestData.Blob(2, 10_000), b.ReadBlob("docs", "from-a", "file"));
        Assert.Null(a.Store.Get("docs", "late"));
        // B's fast versions did not drag A's clock with them.
        Assert.InRange(HybridLogicalClock.PhysicalMs(a.Store.Clock.Last), 0, DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds());
        var peer = (await a.StatusAsync()).ClockOffsetsMs![b.Store.NodeId];
        Assert.InRange(peer, TimeSpan.FromDays(2).TotalMilliseconds - 60_000, TimeSpan.FromDays(2).TotalMilliseconds + 60_000);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await _nodes.DisposeAsync();
}
