using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster;
using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Node.Hosting;
using ClusterNode.Node.Membership;
using ClusterNode.Persistence.Records;
using Microsoft.Extensions.Logging;

namespace ClusterNode.Node;

/// <summary>
/// A cluster-node process: the replication runtime in an ActorSystem that is an Akka.Cluster member, with the
/// membership watcher that connects the replication hub to every other member. Without seed nodes it forms a
/// cluster of one by joining itself, so a node started on the defaults works as it is.
///
/// The store outlives the ActorSystem. A multi-master store has no minority to sacrifice, so nothing downs a
/// member automatically; but an ActorSystem the cluster still removes (an operator's <c>down</c>), that a peer
/// quarantines, or that the cluster repair finds in the smaller piece of a split can never be part of the cluster
/// again. Then the host starts a new ActorSystem on the same store, which joins as a new incarnation and resumes
/// every leg from its persisted cursor: the process never exits for it and the HTTP API keeps serving meanwhile.
/// </summary>
public sealed class NodeHost : IAsyncDisposable
{
    /// <summary>What a cluster member needs under any configuration; a deployment's HOCON wins over it.</summary>
    public static readonly Config ClusterDefaults = ConfigurationFactory.ParseString("""
        akka.actor.provider = cluster
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 4053 }
        akka.cluster.seed-nodes = []
        # No automatic downing: a crashed or partitioned member stays a member (unreachable) until it returns or an
        # operator runs `cluster-node down`; every node keeps taking writes meanwhile.
        akka.cluster.downing-provider-class = ""
        # A connection that failed is tried again soon: replication resumes as soon as the network is back.
        akka.remote.retry-gate-closed-for = 1s
        # Serializer of the cluster repair's probes (ClusterRepair).
        akka.actor.serializers.cluster-node-repair = "ClusterNode.Node.Membership.ClusterProbeSerializer, cluster-node"
        akka.actor.serialization-bindings { "ClusterNode.Node.Membership.ClusterRepair+ClusterProbe, cluster-node" = cluster-node-repair }
        akka.actor.serialization-identifiers { "ClusterNode.Node.Membership.ClusterProbeSerializer, cluster-node" = 7302 }
        # Keep asking the seeds to join for as long as it takes (a seed may be down for hours), and soon again when a
        # join was not answered (a new incarnation waits for its old one to be removed).
        # 500ms, not Akka's 10s: a restarted member's first Join only gets its old incarnation (same address) downed,
        # and it is admitted at the next try. A try cut short by a slow answer costs nothing: a member that asks again
        # is welcomed again.
        akka.cluster.shutdown-after-unsuccessful-join-seed-nodes = off
        akka.cluster.retry-unsuccessful-join-after = 500ms
        # A member's state changes (Joining -> Up, a downed incarnation removed) are made by the leader on this tick and
        # reach the others by gossip: at Akka's 1 s each, a restarted member waited up to two more seconds to be Up.
        # Neither touches failure detection (heartbeats), so a loaded machine marks no one unreachable for them.
        akka.cluster.leader-actions-interval = 100ms
        akka.cluster.gossip-interval = 200ms
        # A message to a stopped actor is routine here (a leg restarted, a peer's incarnation replaced), and each used to
        # be a long INFO line: log the first, then only a count of the others every 5 minutes (Akka's own summary).
        akka.log-dead-letters = 1
        akka.log-dead-letters-suspend-duration = 5m
        akka.log-dead-letters-during-shutdown = off
        """);

    /// <summary>
    /// Pause before starting a new ActorSystem, so a storm of failures cannot spin the CPU. Not 1 s: a peer gates the old
    /// incarnation's address for retry-gate-closed-for (1 s) after it goes, and a new incarnation that associated just as
    /// that gate lifted had its handshake land on the old association's dying writer; the peer then never got an answer
    /// back to it, and the new incarnation could not join for minutes (seen in ClusterMembershipSpec under load).
    /// </summary>
    private static readonly TimeSpan RestartBackoff = TimeSpan.FromSeconds(3);

    private readonly Config _config;
    private readonly IReadOnlyCollection<Setup> _setups;
    private readonly Action<ActorSystem>? _onSystemStarted;
    private readonly TaskCompletionSource _stopping = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _supervision;
    private NodeRuntime _runtime;
    private Address? _joinNext;
    private int _incarnations = 1;
    // Incarnations in a row that never became Up: each waits twice as long to be admitted as the one before.
    private int _incarnationsNotUp = 1;

    private NodeHost(Config config, IReadOnlyCollection<Setup> setups, NodeRuntime runtime, Action<ActorSystem>? onSystemStarted)
    {
        _config = config;
        _setups = setups;
        _runtime = runtime;
        _onSystemStarted = onSystemStarted;
        _supervision = Task.Run(SuperviseAsync);
    }

    /// <summary>Cluster repair found this node in the smaller piece of a split: join <paramref name="target"/>'s cluster instead.</summary>
    private void Rejoin(Address target, string reason)
    {
        Volatile.Write(ref _joinNext, target);
        Restarted?.Invoke(reason);
        _ = Runtime.System.Terminate();
    }

    /// <summary>The current incarnation; a new one replaces it when the last was removed, quarantined or split off.</summary>
    public NodeRuntime Runtime => Volatile.Read(ref _runtime);

    public RecordStore Store => Runtime.Store;

    public Cluster Cluster => Cluster.Get(Runtime.System);

    /// <summary>ActorSystems started so far on this store (1 until one was removed, quarantined or split off).</summary>
    public int Incarnations => Volatile.Read(ref _incarnations);

    /// <summary>Says why the host started a new incarnation, for the process's log.</summary>
    public event Action<string>? Restarted;

    /// <param name="loggerFactory">Where every incarnation's Akka log goes; null: Akka's own logger (standard output).</param>
    public static NodeHost Start(Config config, Action<ActorSystem>? onSystemStarted = null, ILoggerFactory? loggerFactory = null) =>
        Start(config, onSystemStarted, loggerFactory is null ? null : () => loggerFactory);

    /// <param name="loggerFactory">Asked for once the store is open, just before the first ActorSystem: the run command
    /// makes its console logging meanwhile, off the node's start-up path.</param>
    internal static NodeHost Start(Config config, Action<ActorSystem>? onSystemStarted, Func<ILoggerFactory>? loggerFactory)
    {
        config = config.WithFallback(ClusterDefaults);
        // Bad TLS settings stop start-up before the store is opened, naming the key.
        ClusterNode.Actors.Security.TlsSettings.Create(config.WithDefaults());
        var store = NodeRuntime.OpenStore(ClusterNode.Actors.Replication.ReplicationSettings.Create(config));
        StartUpTrace.Step("store");
        try
        {
            IReadOnlyCollection<Setup> setups = [];
            if (loggerFactory is not null)
            {
                (config, setups) = NodeLogging.BridgeAkkaLog(config, loggerFactory());
                StartUpTrace.Step("log-bridge");
            }
            NodeHost? host = null;
            var runtime = StartIncarnation(store, config, setups, onSystemStarted, (target, reason) => host?.Rejoin(target, reason), joinTarget: null,
                JoinPatience(config, incarnationsNotUp: 0));
            host = new NodeHost(config, setups, runtime, onSystemStarted);
            host.ResetJoinPatienceWhenUp(runtime);
            return host;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    private static NodeRuntime StartIncarnation(RecordStore store, Config config, IReadOnlyCollection<Setup> setups, Action<ActorSystem>? onSystemStarted,
        Action<Address, string> rejoin, Address? joinTarget, TimeSpan joinPatience)
    {
        var runtime = NodeRuntime.StartOn(store, WithJoinTarget(config, joinTarget), onSystemStarted, setups);
        StartUpTrace.Step("actor-system");
        try
        {
            runtime.System.ActorOf(ClusterMembership.Props(runtime.Hub), ClusterMembership.Name);
            runtime.System.ActorOf(ClusterRepair.Props(rejoin, runtime.Hub, RepairInterval(config), joinPatience, joinTarget), ClusterRepair.Name);
            var cluster = Cluster.Get(runtime.System);
            if (cluster.Settings.SeedNodes.Count == 0) cluster.Join(cluster.SelfAddress);
            StartUpTrace.Step("joining");
            return runtime;
        }
        catch
        {
            _ = runtime.System.Terminate(); // or its port stays taken and every later attempt fails
            throw;
        }
    }

    /// <summary>
    /// Joining a given member's cluster: that member first, then the configured seeds but this node, so this node
    /// cannot form a cluster of its own, and still finds one if the target itself moved meanwhile.
    /// </summary>
    private static Config WithJoinTarget(Config config, Address? joinTarget)
    {
        if (joinTarget is null) return config;
        var host = config.GetString("akka.remote.dot-netty.tcp.public-hostname") is { Length: > 0 } publicHost ? publicHost : config.GetString("akka.remote.dot-netty.tcp.hostname");
        var port = config.GetInt("akka.remote.dot-netty.tcp.public-port") is > 0 and var publicPort ? publicPort : config.GetInt("akka.remote.dot-netty.tcp.port");
        var self = $"akka.tcp://{NodeRuntime.SystemName}@{host}:{port}";
        var seeds = config.GetStringList("akka.cluster.seed-nodes")
            .Where(seed => seed != self && seed != self.Replace("akka.tcp://", "akka.ssl.tcp://")) // either scheme: TLS may be on
            .Prepend(joinTarget.ToString())
            .Distinct();
        return ConfigurationFactory.ParseString($"akka.cluster.seed-nodes = [{string.Join(", ", seeds.Select(seed => $"\"{seed}\""))}]").WithFallback(config);
    }

    private void ResetJoinPatienceWhenUp(NodeRuntime runtime) =>
        Cluster.Get(runtime.System).RegisterOnMemberUp(() =>
        {
            StartUpTrace.Step("member-up");
            Volatile.Write(ref _incarnationsNotUp, 0);
        });

    /// <summary>cluster-node.membership.join-patience, doubled for each incarnation in a row that never became Up, up to 16 times.</summary>
    private static TimeSpan JoinPatience(Config config, int incarnationsNotUp)
    {
        var patience = config.WithDefaults().GetTimeSpan("cluster-node.membership.join-patience", TimeSpan.Zero);
        if (patience <= TimeSpan.Zero)
            throw new ConfigurationException("cluster-node.membership.join-patience must be a positive duration, e.g. 20s");
        return patience * (1 << Math.Min(incarnationsNotUp, 4));
    }

    private static TimeSpan RepairInterval(Config config)
    {
        var interval = config.WithDefaults().GetTimeSpan("cluster-node.membership.repair-interval", TimeSpan.Zero);
        return interval > TimeSpan.Zero
            ? interval
            : throw new ConfigurationException("cluster-node.membership.repair-interval must be a positive duration, e.g. 3s");
    }

    private async Task SuperviseAsync()
    {
        while (true)
        {
            var runtime = Runtime;
            if (await Task.WhenAny(runtime.System.WhenTerminated, _stopping.Task) == _stopping.Task) return;
            var joinTarget = Interlocked.Exchange(ref _joinNext, null);
            if (joinTarget is null)
                Restarted?.Invoke("the ActorSystem stopped (removed from the cluster or quarantined by a peer); starting a new one on the same store to join again");
            while (true)
            {
                if (await Task.WhenAny(Task.Delay(RestartBackoff), _stopping.Task) == _stopping.Task) return;
                try
                {
                    var next = StartIncarnation(runtime.Store, _config, _setups, _onSystemStarted, Rejoin, joinTarget,
                        JoinPatience(_config, Interlocked.Increment(ref _incarnationsNotUp) - 1));
                    Volatile.Write(ref _runtime, next);
                    ResetJoinPatienceWhenUp(next);
                    Interlocked.Increment(ref _incarnations);
                    break;
                }
                catch (Exception e)
                {
                    // The old system's port may take a moment to be released: keep trying.
                    Restarted?.Invoke($"starting a new ActorSystem failed ({e.GetBaseException().Message}); trying again");
                }
            }
        }
    }

    /// <summary>Leaves the cluster gracefully (coordinated shutdown), then closes LMDB.</summary>
    public async ValueTask DisposeAsync()
    {
        _stopping.TrySetResult();
        await _supervision;
        var runtime = Runtime;
        await CoordinatedShutdown.Get(runtime.System).Run(CoordinatedShutdown.ClrExitReason.Instance);
        await runtime.DisposeAsync();
        runtime.Store.Dispose();
    }
}
