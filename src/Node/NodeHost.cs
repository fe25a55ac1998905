using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Node.Membership;

namespace ClusterNode.Node;

/// <summary>
/// A cluster-node process: the replication runtime in an ActorSystem that is an Akka.Cluster member, with the
/// membership watcher that connects the replication hub to every other member. Without seed nodes it forms a
/// cluster of one by joining itself, so a node started on the defaults works as it is.
/// </summary>
public sealed class NodeHost : IAsyncDisposable
{
    /// <summary>What a cluster member needs under any configuration; a deployment's HOCON wins over it.</summary>
    public static readonly Config ClusterDefaults = ConfigurationFactory.ParseString("""
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 4053 }
        akka.cluster.seed-nodes = []
        # A member that vanishes (kill -9) is removed after this, so a restarted process can join again.
        akka.cluster.downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
        akka.cluster.split-brain-resolver.active-strategy = keep-majority
        akka.cluster.split-brain-resolver.stable-after = 5s
        """);

    private NodeHost(NodeRuntime runtime) => Runtime = runtime;

    public NodeRuntime Runtime { get; }
    public Cluster Cluster => Cluster.Get(Runtime.System);

    public static NodeHost Start(Config config, Action<ActorSystem>? onSystemStarted = null)
    {
        var runtime = NodeRuntime.Start(config.WithFallback(ClusterDefaults), onSystemStarted);
        runtime.System.ActorOf(ClusterMembership.Props(runtime.Hub), ClusterMembership.Name);
        var cluster = Cluster.Get(runtime.System);
        if (cluster.Settings.SeedNodes.Count == 0) cluster.Join(cluster.SelfAddress);
        return new NodeHost(runtime);
    }

    /// <summary>Leaves the cluster gracefully (coordinated shutdown), then closes LMDB.</summary>
    public async ValueTask DisposeAsync()
    {
        await CoordinatedShutdown.Get(Runtime.System).Run(CoordinatedShutdown.ClrExitReason.Instance);
        await Runtime.DisposeAsync();
    }
}
