using System.Net;
using Akka.Actor;
using Akka.Configuration;
using ClusterNode.Node;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Node;

/// <summary>
/// Two real cluster members (Akka.Cluster over Akka.Remote on loopback, real LMDB and blob directories): a
/// member that comes up is replicated from without anyone connecting it by hand, and one that leaves and
/// returns resumes from its persisted cursor.
/// </summary>
public sealed class ClusterMembershipSpec : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private readonly ITestOutputHelper _output;
    private readonly string _root = TestData.TempDirectory("membership");
    private readonly List<NodeHost> _running = new();

    public ClusterMembershipSpec(ITestOutputHelper output) : base(output: output) => _output = output;

    [Fact]
    public async Task Members_replicate_as_they_come_up_and_resume_from_the_persisted_cursor_when_they_return()
    {
        var seedPort = Loopback.FreePort();
        var seed = $"akka.tcp://cluster-node@127.0.0.1:{seedPort}";
        var a = Start("a", seedPort, seed);
        var b = Start("b", Loopback.FreePort(), seed);

        long lastOfA = 0;
        for (var i = 0; i < 10; i++) lastOfA = a.Runtime.WriteBlob("t", $"r{i}", "f", TestData.Blob(i, 30_000)).Sequence;
        await AwaitAssertAsync(async () => Assert.Equal(lastOfA, (await PeerOf(b, a))?.PersistedCursor),
            TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200));

        // B leaves gracefully; A goes on writing; B returns on another port and resumes where it was.
        await Stop(b);
        for (var i = 10; i < 15; i++) lastOfA = a.Runtime.WriteBlob("t", $"r{i}", "f", TestData.Blob(i, 30_000)).Sequence;
        b = Start("b", Loopback.FreePort(), seed);
        await AwaitAssertAsync(async () => Assert.Equal(lastOfA, (await PeerOf(b, a))?.PersistedCursor),
            TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200));
        Assert.Equal(5, (await PeerOf(b, a))!.RecordsReceived); // only what it missed, from its cursor

        await Stop(a);
        for (var i = 0; i < 15; i++)
        {
            var blob = b.Runtime.Store.Get("t", $"r{i}")!.Blob("f")!;
            using var file = b.Runtime.Store.Blobs.OpenRead(blob.FileId);
            using var bytes = new MemoryStream();
            file.CopyTo(bytes);
            Assert.Equal(TestData.Blob(i, 30_000), bytes.ToArray());
        }
    }

    [Fact]
    public async Task A_member_downed_by_an_operator_keeps_its_process_and_rejoins_with_its_data_on_a_new_ActorSystem()
    {
        var seedPort = Loopback.FreePort();
        var seed = $"akka.tcp://cluster-node@127.0.0.1:{seedPort}";
        var a = Start("a", seedPort, seed);
        var b = Start("b", Loopback.FreePort(), seed);
        var lastOfA = a.Runtime.WriteBlob("t", "before", "f", TestData.Blob(1, 20_000)).Sequence;
        await AwaitAssertAsync(async () => Assert.Equal(lastOfA, (await PeerOf(b, a))?.PersistedCursor), Patience, Poll);

        a.Cluster.Down(b.Cluster.SelfAddress);

        // B's ActorSystem is removed from the cluster; B's host starts another on the same store, which joins again.
        await AwaitAssertAsync(() =>
        {
            Assert.Equal(2, b.Incarnations);
            Assert.Equal(Akka.Cluster.MemberStatus.Up, b.Cluster.SelfMember.Status);
        }, Patience, Poll);
        a.Runtime.WriteBlob("t", "after", "f", TestData.Blob(2, 20_000));
        b.Runtime.WriteBlob("t", "from-b", "f", TestData.Blob(3, 20_000));
        await BothCaughtUp(a, b);
        Assert.Equal(TestData.Blob(2, 20_000), ReadBlob(b, "after"));
        Assert.Equal(TestData.Blob(3, 20_000), ReadBlob(a, "from-b"));
    }

    [Fact]
    public async Task A_member_quarantined_by_its_peer_recovers_in_process_and_replication_resumes_both_ways()
    {
        var seedPort = Loopback.FreePort();
        var seed = $"akka.tcp://cluster-node@127.0.0.1:{seedPort}";
        var a = Start("a", seedPort, seed);
        var b = Start("b", Loopback.FreePort(), seed);
        await AwaitAssertAsync(() => Assert.Equal(2, a.Cluster.State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up)), Patience, Poll);

        // What a lost system message does to an association: A will never talk to this incarnation of B again.
        var provider = (Akka.Remote.RemoteActorRefProvider)((ExtendedActorSystem)a.Runtime.System).Provider;
        provider.Quarantine(b.Cluster.SelfAddress, b.Cluster.SelfUniqueAddress.Uid);

        await AwaitAssertAsync(() =>
        {
            Assert.True(b.Incarnations >= 2, "B did not start a new ActorSystem");
            Assert.Equal(Akka.Cluster.MemberStatus.Up, b.Cluster.SelfMember.Status);
        }, Patience, Poll);
        a.Runtime.WriteBlob("t", "from-a", "f", TestData.Blob(4, 20_000));
        b.Runtime.WriteBlob("t", "from-b", "f", TestData.Blob(5, 20_000));
        await BothCaughtUp(a, b);
        Assert.Equal(TestData.Blob(4, 20_000), ReadBlob(b, "from-a"));
    }

    [Fact]
    public async Task Two_clusters_formed_apart_become_one_the_smaller_rejoining_the_larger_and_replication_spans_them()
    {
        var (aPort, bPort) = (Loopback.FreePort(), Loopback.FreePort());
        var (aSeed, bSeed) = ($"akka.tcp://cluster-node@127.0.0.1:{aPort}", $"akka.tcp://cluster-node@127.0.0.1:{bPort}");
        // A starts while B is away and forms a cluster of its own (as a first seed restarted in a partition does); B
        // then forms another, which C joins. Akka.Cluster never merges them by itself.
        var a = Start("a", aPort, aSeed, bSeed);
        await AwaitAssertAsync(() => Assert.Equal(Akka.Cluster.MemberStatus.Up, a.Cluster.SelfMember.Status), Patience, Poll);
        a.Runtime.WriteBlob("t", "from-a", "f", TestData.Blob(6, 20_000));
        var b = Start("b", bPort, bSeed);
        var c = Start("c", Loopback.FreePort(), bSeed);
        await AwaitAssertAsync(() => Assert.Equal(2, c.Cluster.State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up)), Patience, Poll);
        Assert.Single(a.Cluster.State.Members);

        await AwaitAssertAsync(() =>
        {
            foreach (var node in new[] { a, b, c })
                Assert.Equal(3, node.Cluster.State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up));
        }, Patience, Poll);
        Assert.Equal(2, a.Incarnations); // the smaller piece gave way
        Assert.Equal(1, b.Incarnations);
        await AwaitAssertAsync(() => Assert.NotNull(c.Store.Get("t", "from-a")?.Blob("f")), Patience, Poll);
        await AwaitAssertAsync(() => Assert.Equal(TestData.Blob(6, 20_000), ReadBlob(c, "from-a")), Patience, Poll);
    }

    [Fact]
    public async Task A_node_its_seed_never_answers_asks_again_on_a_new_ActorSystem_and_joins_once_the_seed_answers()
    {
        // A seed port that takes the connection and every byte but never answers (as a seed whose answers Akka.Remote
        // loses does): the node's join can never complete on that connection.
        using var silentSeed = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        silentSeed.Start();
        var seedPort = ((IPEndPoint)silentSeed.LocalEndpoint).Port;
        var connections = new List<System.Net.Sockets.TcpClient>();
        using var swallowing = new CancellationTokenSource();
        var swallow = Task.Run(async () =>
        {
            while (!swallowing.IsCancellationRequested)
            {
                var connection = await silentSeed.AcceptTcpClientAsync(swallowing.Token);
                lock (connections) connections.Add(connection);
                _ = connection.GetStream().CopyToAsync(Stream.Null, swallowing.Token);
            }
        });
        var seed = $"akka.tcp://cluster-node@127.0.0.1:{seedPort}";
        var b = StartWith("b", Loopback.FreePort(), "cluster-node.membership.join-patience = 2s", seed);

        await AwaitAssertAsync(() => Assert.True(b.Incarnations >= 2, "B kept waiting on the silent seed"), Patience, Poll);

        swallowing.Cancel();
        silentSeed.Stop();
        lock (connections) connections.ForEach(c => c.Dispose());
        await swallow.ContinueWith(_ => { });
        var a = Start("a", seedPort, seed);
        await AwaitAssertAsync(() => Assert.Equal(2, b.Cluster.State.Members.Count(m => m.Status == Akka.Cluster.MemberStatus.Up)), Patience, Poll);
        a.Runtime.WriteBlob("t", "from-a", "f", TestData.Blob(7, 20_000));
        await AwaitAssertAsync(() => Assert.Equal(TestData.Blob(7, 20_000), ReadBlob(b, "from-a")), Patience, Poll);
    }

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    /// <summary>Each node's cursor for the other reaches the other's last sequence (which grows as each applies the other's writes).</summary>
    private async Task BothCaughtUp(NodeHost a, NodeHost b) =>
        await AwaitAssertAsync(async () =>
        {
            Assert.Equal(a.Store.LastSequence, (await PeerOf(b, a))?.PersistedCursor);
            Assert.Equal(b.Store.LastSequence, (await PeerOf(a, b))?.PersistedCursor);
        }, Patience, Poll);

    private static byte[] ReadBlob(NodeHost host, string id)
    {
        var blob = host.Store.Get("t", id)!.Blob("f")!;
        using var file = host.Store.Blobs.OpenRead(blob.FileId);
        using var bytes = new MemoryStream();
        file.CopyTo(bytes);
        return bytes.ToArray();
    }

    private NodeHost Start(string name, int port, params string[] seeds) => StartWith(name, port, "", seeds);

    private NodeHost StartWith(string name, int port, string settings, params string[] seeds)
    {
        var dir = Path.Combine(_root, name).Replace("\\", "/");
        var host = NodeHost.Start(ConfigurationFactory.ParseString($$"""
            {{settings}}
            cluster-node.data-dir = "{{dir}}"
            akka.loglevel = INFO
            akka.loggers = []
            akka.remote.dot-netty.tcp.port = {{port}}
            akka.cluster.seed-nodes = [{{string.Join(", ", seeds.Select(s => $"\"{s}\""))}}]
            """), system => TestLogging.AttachTo(system, _output));
        _running.Add(host);
        return host;
    }

    private async Task Stop(NodeHost host)
    {
        _running.Remove(host);
        await host.DisposeAsync();
    }

    private static async Task<Actors.Replication.Receiver.PeerStatus?> PeerOf(NodeHost follower, NodeHost peer) =>
        (await follower.Runtime.StatusAsync()).Peers.SingleOrDefault(p => p.Peer == peer.Runtime.Store.NodeId);

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync()
    {
        foreach (var host in _running.ToList()) await host.DisposeAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
