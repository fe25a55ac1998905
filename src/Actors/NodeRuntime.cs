using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using ClusterNode.Actors.Blobs;
using ClusterNode.Actors.Replication;
using ClusterNode.Actors.Security;
using ClusterNode.Actors.Telemetry;
using ClusterNode.Persistence.Blobs;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Actors;

/// <summary>
/// One node's replication runtime: an ActorSystem named <c>cluster-node</c>, the record store and blob files
/// under <c>cluster-node.data-dir</c>, the replication hub and the blob scrub. The host process adds cluster
/// membership (which tells the hub to connect and disconnect peers) and the HTTP API on top; tests and the bench use
/// it as it is.
/// </summary>
public sealed class NodeRuntime : IAsyncDisposable
{
    public const string SystemName = "cluster-node";

    private readonly bool _ownsStore;

    private NodeRuntime(ActorSystem system, RecordStore store, IActorRef hub, IActorRef scrub, ReplicationSettings settings, bool ownsStore, NodeMetrics metrics)
    {
        System = system;
        Metrics = metrics;
        Store = store;
        Hub = hub;
        Scrub = scrub;
        Settings = settings;
        _ownsStore = ownsStore;
    }

    public ActorSystem System { get; }
    public RecordStore Store { get; }
    public IActorRef Hub { get; }
    public IActorRef Scrub { get; }
    public ReplicationSettings Settings { get; }

    /// <summary>What this node publishes for /metrics (and OTLP): its legs, scrub, lost blobs, write latency.</summary>
    public NodeMetrics Metrics { get; }
    public Address Address => ((ExtendedActorSystem)System).Provider.DefaultAddress;

    /// <summary>
    /// Starts a node on <paramref name="config"/> over the embedded defaults, opening its store; disposing the
    /// runtime closes the store too. A bad setting throws a <see cref="ConfigurationException"/> naming the key
    /// before anything is opened.
    /// </summary>
    /// <param name="onSystemStarted">Runs before the hub starts, e.g. to attach a logger that sees everything.</param>
    /// <param name="wallClockMs">The node's wall clock (Unix ms); a test gives a node a clock that is off.</param>
    public static NodeRuntime Start(Config config, Action<ActorSystem>? onSystemStarted = null, Func<long>? wallClockMs = null)
    {
        var settings = ReplicationSettings.Create(config);
        var scrub = BlobScrub.Settings.Create(config);
        var store = OpenStore(settings, wallClockMs);
        try
        {
            return Start(config, settings, scrub, store, ownsStore: true, onSystemStarted, setups: []);
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Starts an ActorSystem and hub on a store that outlives it: the host starts a new one on the same store when
    /// the cluster removed or quarantined the previous one. Disposing the runtime leaves the store open.
    /// </summary>
    /// <param name="setups">More setups of the ActorSystem, e.g. the logger factory Akka's log goes to.</param>
    public static NodeRuntime StartOn(RecordStore store, Config config, Action<ActorSystem>? onSystemStarted = null, IReadOnlyCollection<Setup>? setups = null) =>
        Start(config, ReplicationSettings.Create(config), BlobScrub.Settings.Create(config), store, ownsStore: false, onSystemStarted, setups ?? []);

    /// <summary>Opens the record store and blob files of <paramref name="settings"/>; a data-dir that cannot hold them is a configuration error.</summary>
    public static RecordStore OpenStore(ReplicationSettings settings, Func<long>? wallClockMs = null)
    {
        try
        {
            return RecordStore.Open(settings.Store, wallClockMs);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"cluster-node.data-dir '{settings.DataDirectory}' cannot hold the node's data: {e.Message}", e);
        }
    }

    private static NodeRuntime Start(Config config, ReplicationSettings settings, BlobScrub.Settings scrubSettings, RecordStore store, bool ownsStore,
        Action<ActorSystem>? onSystemStarted, IReadOnlyCollection<Setup> setups)
    {
        config = config.WithDefaults();
        // Read again for every incarnation: a certificate renewed on disk is used by the next one.
        var setup = TlsSettings.Create(config).Setup(config);
        foreach (var extra in setups) setup = setup.And(extra);
        var system = ActorSystem.Create(SystemName, setup);
        var metrics = NodeMetrics.Acquire(store.NodeId);
        // Released however the system ends: the host terminates a lost incarnation's system without disposing this.
        system.RegisterOnTermination(metrics.Release);
        try
        {
            // Before any actor starts: every one of them publishes into the node's metrics.
            NodeTelemetry.Get(system).Attach(metrics);
            onSystemStarted?.Invoke(system);
            var hub = system.ActorOf(ReplicationHub.Props(store, settings), ReplicationHub.Name);
            var scrub = system.ActorOf(BlobScrub.Props(store, scrubSettings), BlobScrub.Name);
            return new NodeRuntime(system, store, hub, scrub, settings, ownsStore, metrics);
        }
        catch
        {
            _ = system.Terminate();
            throw;
        }
    }

    public void ConnectTo(Address peer) => Hub.Tell(new ReplicationHub.ConnectPeer(peer));

    public Task<ReplicationHub.NodeStatus> StatusAsync(TimeSpan? timeout = null) =>
        Hub.Ask<ReplicationHub.NodeStatus>(ReplicationHub.GetStatus.Instance, timeout ?? TimeSpan.FromSeconds(10));

    public Task<BlobScrub.Status> ScrubStatusAsync(TimeSpan? timeout = null) =>
        Scrub.Ask<BlobScrub.Status>(BlobScrub.GetStatus.Instance, timeout ?? TimeSpan.FromSeconds(10));

    /// <summary>A local write of a record with one blob, the way the HTTP API does it: blob file first, then the record.</summary>
    public LocalWrite WriteBlob(string table, string id, string field, ReadOnlySpan<byte> bytes)
    {
        using var writer = Store.Blobs.BeginWrite();
        writer.Append(bytes);
        var blob = writer.Commit(field, BlobStore.NewFileId());
        Store.Blobs.SyncDirectory();
        return Store.PutBlob(table, id, blob);
    }

    public async ValueTask DisposeAsync()
    {
        await System.Terminate();
        if (_ownsStore) Store.Dispose();
    }
}
