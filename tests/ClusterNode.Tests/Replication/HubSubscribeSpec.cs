using Akka.Actor;
using ClusterNode.Actors.Replication;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Replication;

/// <summary>
/// Who may subscribe to a hub: a member it replicates with, for a receiver of its own. A Subscribe from any other
/// address, or one aiming the stream at an actor on another node than its sender, starts no sender and sends nothing.
/// </summary>
public sealed class HubSubscribeSpec : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private readonly NodeSet _nodes;

    public HubSubscribeSpec(ITestOutputHelper output) : base(output: output) => _nodes = new NodeSet("hub-subscribe", output);

    /// <summary>A node id of no node, so that an accepted Subscribe would start a sender of its own.</summary>
    private const string Forger = "forger";

    [Fact]
    public async Task Hub_must_refuse_a_subscribe_from_a_non_member_and_one_naming_a_receiver_at_another_address()
    {
        var a = _nodes.Start("a");
        var b = _nodes.Start("b");
        var outsider = _nodes.Start("outsider"); // reaches A's remoting port, but no one told A of it
        a.ConnectTo(b);
        for (var i = 0; i < 3; i++) a.WriteRecordWithBlob("docs", TestData.Id(i), "{}", "file", TestData.Blob(i, 1000));
        await AwaitAssertAsync(async () => Assert.Equal(a.Store.LastSequence, (await b.PeerStatusAsync(a))?.PersistedCursor),
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200));
        var hubOfA = new RootActorPath(a.Address) / "user" / ReplicationHub.Name;

        // From a non-member, for a receiver of its own.
        var outsiderReceiver = CreateTestProbe(outsider.System);
        outsider.System.ActorSelection(hubOfA).Tell(new Subscribe(Forger, 1, 1, 1 << 20, outsiderReceiver.Ref), outsiderReceiver.Ref);
        // From a member, naming a receiver on another node.
        var memberSender = CreateTestProbe(b.System);
        var elsewhere = CreateTestProbe(outsider.System);
        b.System.ActorSelection(hubOfA).Tell(new Subscribe(Forger, 1, 1, 1 << 20, elsewhere.Ref), memberSender.Ref);

        await outsiderReceiver.ExpectNoMsgAsync(TimeSpan.FromSeconds(3));
        await elsewhere.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
        await memberSender.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
        var followers = (await a.StatusAsync()).Followers;
        Assert.Equal([b.Store.NodeId], followers.Select(f => f.Follower));

        // The same path works for a member's own receiver: the refusals above are the checks, not an unreachable hub.
        var ownReceiver = CreateTestProbe(b.System);
        b.System.ActorSelection(hubOfA).Tell(new Subscribe(Forger, 1, 1, 1 << 20, ownReceiver.Ref), ownReceiver.Ref);
        await ownReceiver.ExpectMsgAsync<object>(TimeSpan.FromSeconds(10));
        await AwaitAssertAsync(async () => Assert.Contains(Forger, (await a.StatusAsync()).Followers.Select(f => f.Follower)),
            TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await _nodes.DisposeAsync();
}
