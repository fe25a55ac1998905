using Akka.Actor;
using ClusterNode.Actors.Replication;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Replication;

/// <summary>
/// Who may subscribe to a hub: a member it replicates with, for a receiver of its own. A Subscribe from any other
/// address, or one aiming the stream at an actor on another node than its sender, starts no sender and sends nothing
/// but the refusal, to its sender alone. A follower refused because the hub has not learnt of it yet (a restarted member
/// being admitted) is served as soon as the hub does.
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

        // Each sender hears the refusal and nothing else; the receiver named elsewhere hears nothing at all.
        Assert.Equal(1, (await outsiderReceiver.ExpectMsgAsync<SubscribeRefused>(TimeSpan.FromSeconds(10))).Epoch);
        Assert.Equal(1, (await memberSender.ExpectMsgAsync<SubscribeRefused>(TimeSpan.FromSeconds(10))).Epoch);
        await outsiderReceiver.ExpectNoMsgAsync(TimeSpan.FromSeconds(3));
        await elsewhere.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
        await memberSender.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(100));
        var followers = (await a.StatusAsync()).Followers;
        Assert.Equal([b.Store.NodeId], followers.Select(f => f.Follower));

        // The same path works for a member's own receiver: the refusals above are the checks, not an unreachable hub.
        var ownReceiver = CreateTestProbe(b.System);
        b.System.ActorSelection(hubOfA).Tell(new Subscribe(Forger, 1, 1, 1 << 20, ownReceiver.Ref), ownReceiver.Ref);
        Assert.IsNotType<SubscribeRefused>(await ownReceiver.ExpectMsgAsync<object>(TimeSpan.FromSeconds(10)));
        await AwaitAssertAsync(async () => Assert.Contains(Forger, (await a.StatusAsync()).Followers.Select(f => f.Follower)),
            TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task A_follower_refused_before_the_hub_knows_it_must_be_served_once_the_hub_learns_of_it()
    {
        // Silence is noticed only after minutes here: only the refusal can make the follower ask again in time.
        const string slowSilence = "cluster-node.replication.idle-timeout = 300s";
        var a = _nodes.Start("a", slowSilence);
        var b = _nodes.Start("b", slowSilence);
        for (var i = 0; i < 3; i++) a.WriteRecordWithBlob("docs", TestData.Id(i), "{}", "file", TestData.Blob(i, 1000));

        // B asks A before A has learnt of B (as a restarted member does before it is admitted).
        b.Runtime.ConnectTo(a.Address);
        await AwaitAssertAsync(async () => Assert.Contains("refused", (await b.PeerStatusAsync(a))?.LastProblem ?? ""),
            TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));

        a.Runtime.ConnectTo(b.Address);
        await AwaitAssertAsync(async () => Assert.Equal(a.Store.LastSequence, (await b.PeerStatusAsync(a))?.PersistedCursor),
            TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200));
        for (var i = 0; i < 3; i++) Assert.Equal(TestData.Blob(i, 1000), b.ReadBlob("docs", TestData.Id(i), "file"));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await _nodes.DisposeAsync();
}
