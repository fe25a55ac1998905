using Akka.Actor;
using ClusterNode.Actors.Replication;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Replication;

/// <summary>
/// The hub under repeated and racing events, as a flapping network delivers them: membership saying up, down, up in a
/// burst, and a forged Subscribe repeated (naming a real follower, sent from no member). Whatever the order, the
/// follower ends with one stream per peer, every record and blob byte-exact, and its cursor at the peer's last sequence;
/// the forged Subscribe starts nothing.
/// </summary>
public sealed class HubIdempotenceSpec : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private const string Table = "docs";
    private const string Field = "file";
    private readonly NodeSet _nodes;

    public HubIdempotenceSpec(ITestOutputHelper output) : base(output: output) => _nodes = new NodeSet("hub-idempotence", output);

    [Fact]
    public async Task A_flapping_peer_and_repeated_subscriptions_must_leave_one_stream_per_peer_that_converges()
    {
        var a = _nodes.Start("a");
        var b = _nodes.Start("b");
        a.Hub.Tell(new ReplicationHub.ConnectPeer(b.Address)); // A serves only members it knows
        for (var i = 0; i < 10; i++) a.WriteRecordWithBlob(Table, TestData.Id(i), $$"""{"n":{{i}}}""", Field, TestData.Blob(i, 20_000));

        // Up, down and up again in a burst, each event repeated: every receiver stopped here must be gone before the
        // next of the same peer starts (two cursor stores of one persistence id would write at once).
        for (var round = 0; round < 5; round++)
        {
            b.Hub.Tell(new ReplicationHub.ConnectPeer(a.Address));
            b.Hub.Tell(new ReplicationHub.ConnectPeer(a.Address));
            b.Hub.Tell(new ReplicationHub.DisconnectPeer(a.Address));
            b.Hub.Tell(new ReplicationHub.DisconnectPeer(a.Address));
        }
        b.Hub.Tell(new ReplicationHub.ConnectPeer(a.Address));
        b.Hub.Tell(new ReplicationHub.ConnectPeer(a.Address));

        // A subscription in B's name repeated twice with one epoch, from a probe that is no member: A refuses it, so B's
        // own stream from A is not replaced and the probe never gets a frame, only the refusals.
        var stray = CreateTestProbe();
        var repeated = new Subscribe(b.Store.NodeId, 1, 1, 1 << 20, stray.Ref);
        a.Hub.Tell(repeated, stray.Ref);
        a.Hub.Tell(repeated, stray.Ref);
        for (var i = 10; i < 20; i++) a.WriteRecordWithBlob(Table, TestData.Id(i), $$"""{"n":{{i}}}""", Field, TestData.Blob(i, 20_000));

        await AwaitAssertAsync(async () =>
        {
            var status = await b.StatusAsync();
            var peer = Assert.Single(status.Peers);
            Assert.Equal(a.Store.LastSequence, peer.PersistedCursor);
        }, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200));
        for (var i = 0; i < 20; i++) Assert.Equal(TestData.Blob(i, 20_000), b.ReadBlob(Table, TestData.Id(i), Field));
        Assert.Single((await a.StatusAsync()).Followers);
        await stray.ExpectMsgAsync<SubscribeRefused>(TimeSpan.FromSeconds(10));
        await stray.ExpectMsgAsync<SubscribeRefused>(TimeSpan.FromSeconds(10));
        await stray.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(500));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await _nodes.DisposeAsync();
}
