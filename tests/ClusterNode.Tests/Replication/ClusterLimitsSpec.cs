using ClusterNode.Persistence.Records;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Replication;

/// <summary>
/// A member configured with tighter record limits than its peer: the peer learns them when it meets the member and
/// refuses at write time what the member would refuse, so no record it takes can stall the stream to that member.
/// </summary>
public sealed class ClusterLimitsSpec : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private readonly NodeSet _nodes;

    public ClusterLimitsSpec(ITestOutputHelper output) : base(output: output) => _nodes = new NodeSet("limits", output);

    [Fact]
    public async Task A_node_refuses_a_record_that_a_member_with_tighter_limits_would_refuse_and_the_stream_keeps_flowing()
    {
        var a = _nodes.Start("a");
        var b = _nodes.Start("b", "cluster-node.record.max-blob-fields = 3");
        a.ConnectTo(b);
        b.ConnectTo(a);

        await AwaitAssertAsync(() => Assert.Equal(3, a.Store.Limits.MaxBlobFields), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
        for (var field = 0; field < 3; field++) a.Runtime.WriteBlob("docs", "wide", $"f{field}", TestData.Blob(field, 1000));
        var before = a.Store.LastSequence;
        Assert.Throws<RecordLimitExceededException>(() => a.Runtime.WriteBlob("docs", "wide", "f3", TestData.Blob(3, 1000)));
        Assert.Equal(before, a.Store.LastSequence);

        var after = a.Store.PutData("docs", "plain", """{"after":"the wide one"}"""u8.ToArray()).Sequence;
        await AwaitAssertAsync(async () => Assert.Equal(a.Store.LastSequence, (await b.PeerStatusAsync(a))?.PersistedCursor),
            TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));
        Assert.Equal(3, b.Store.Get("docs", "wide")!.Blobs.Count);
        Assert.NotNull(b.Store.Get("docs", "plain"));
        Assert.True(after > before);
    }

    [Fact]
    public async Task A_record_a_peer_took_before_it_met_a_member_with_tighter_limits_still_reaches_that_member()
    {
        var a = _nodes.Start("a", "cluster-node.record.max-size = 64 KiB");
        var b = _nodes.Start("b", "cluster-node.record.max-size = 16 KiB");
        var wide = "{\"x\":\"" + new string('w', 40_000) + "\"}";
        a.Store.PutData("docs", "wide", System.Text.Encoding.UTF8.GetBytes(wide)); // before A knows B's limits
        a.ConnectTo(b);
        b.ConnectTo(a);

        await AwaitAssertAsync(() => Assert.Equal(16 * 1024, a.Store.Limits.MaxDataBytes), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
        Assert.Throws<RecordLimitExceededException>(() => a.Store.PutData("docs", "wider", System.Text.Encoding.UTF8.GetBytes(wide)));
        a.Store.PutData("docs", "after", """{"small":true}"""u8.ToArray());
        await AwaitAssertAsync(async () => Assert.Equal(a.Store.LastSequence, (await b.PeerStatusAsync(a))?.PersistedCursor),
            TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));
        Assert.Equal(wide, System.Text.Encoding.UTF8.GetString(b.Store.Get("docs", "wide")!.Data));
        Assert.NotNull(b.Store.Get("docs", "after"));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await _nodes.DisposeAsync();
}
