using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ClusterNode.Actors.Telemetry;

/// <summary>
/// One node's metrics, under the meter <see cref="MeterName"/>: every series is tagged <c>node</c> (its node id), those of
/// a leg <c>peer</c> too. Actors publish into this object (<see cref="Leg"/>, <see cref="Scrub"/>, <see cref="LostBlobs"/>)
/// and the observable instruments read it when a scrape or export collects, so no collection ever waits on an actor.
///
/// <para>The meter and its instruments are created once per process and never disposed; a node is a registration in
/// them (<see cref="Acquire"/>, released when its runtime's ActorSystem ends), counted so that a host's next ActorSystem on the same store
/// (an incarnation) takes over the same counters. A meter per node would not do: OpenTelemetry merges instruments of
/// the same name into one stream, and ends that stream for all of them when any one is disposed, so a replaced
/// incarnation (or another node of a test process stopping) would make the survivors' series vanish.</para>
/// </summary>
public sealed class NodeMetrics
{
    public const string MeterName = "ClusterNode";

    private static readonly object Gate = new();
    private static readonly ConcurrentDictionary<string, NodeMetrics> Live = new();
    private static readonly Meter Meter = new(MeterName, typeof(NodeMetrics).Assembly.GetName().Version?.ToString());

    private static readonly Histogram<double> WriteDuration = Meter.CreateHistogram(
        "cluster_node.write.duration", "s", "Time from a write's request to its answer (a 2xx only once durable), by HTTP method and outcome",
        tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });

    private readonly ConcurrentDictionary<string, LegMetrics> _legs = new();
    private readonly KeyValuePair<string, object?> _nodeTag;
    private int _users;
    private long _scrubPasses, _scrubBytes, _scrubFilesVerified, _scrubPassFiles, _scrubPassBytes, _scrubMissing, _scrubCorrupt;
    private long _lostBlobs;

    static NodeMetrics()
    {
        PeerGauge("cluster_node.peer.committed", "{sequence}", "The peer's log is applied here up to this sequence", leg => leg.Committed);
        PeerGauge("cluster_node.peer.durable", "{sequence}", "Committed, and every blob at or below it durable here", leg => leg.Durable);
        PeerGauge("cluster_node.peer.persisted_cursor", "{sequence}", "Durable and on this node's journal: where a restart resumes", leg => leg.PersistedCursor);
        PeerGauge("cluster_node.peer.lag", "{sequence}", "Sequences of the peer's log not yet persisted here (as /status)", leg => leg.LagSequences);
        PeerGauge("cluster_node.peer.outstanding_blobs", "{blob}", "Blobs of committed records not yet durable here", leg => leg.OutstandingBlobs);
        Meter.CreateObservableGauge("cluster_node.peer.lag_time", () => PerLeg(leg => LagClock.SecondsBehind(leg.Lag.OldestPendingSince, Stopwatch.GetTimestamp())),
            "s", "How long the oldest write of the peer not yet persisted here has been known to exist; 0 when caught up");
        PeerCounter("cluster_node.peer.received", "By", "Bytes of frames and blob chunks received from the peer", leg => leg.BytesReceived);
        PeerCounter("cluster_node.peer.received_records", "{record}", "Records received from the peer in frames", leg => leg.RecordsReceived);
        PeerCounter("cluster_node.peer.blob_save_failures", "{failure}", "Saves of the peer's blobs that failed here", leg => leg.BlobSaveFailures);
        Meter.CreateObservableCounter("cluster_node.peer.resubscriptions", Resubscriptions, "{resubscription}",
            "Times the leg gave its stream up and subscribed again, by reason");

        NodeCounter("cluster_node.scrub.passes", "{pass}", "Scrub passes completed", node => Volatile.Read(ref node._scrubPasses));
        NodeCounter("cluster_node.scrub.hashed", "By", "Blob bytes the scrub re-hashed", node => Volatile.Read(ref node._scrubBytes));
        NodeCounter("cluster_node.scrub.verified", "{file}", "Blob files the scrub found right", node => Volatile.Read(ref node._scrubFilesVerified));
        NodeGauge("cluster_node.scrub.pass_files", "{file}", "Blob files checked by the pass under way (0: none runs)", node => Volatile.Read(ref node._scrubPassFiles));
        NodeGauge("cluster_node.scrub.pass_bytes", "By", "Bytes hashed by the pass under way (0: none runs)", node => Volatile.Read(ref node._scrubPassBytes));
        Meter.CreateObservableCounter("cluster_node.scrub.damaged", ScrubDamaged, "{file}", "Blob files the scrub found missing or corrupt (each reported for repair)");
        NodeGauge("cluster_node.blobs.lost", "{blob}", "Blobs no member holds any more (reads answer 410 Gone)", node => Volatile.Read(ref node._lostBlobs));
    }

    private NodeMetrics(string nodeId)
    {
        NodeId = nodeId;
        _nodeTag = new("node", nodeId);
    }

    public string NodeId { get; }

    /// <summary>
    /// The metrics of node <paramref name="nodeId"/>, reported until every <see cref="Acquire"/> of it is released:
    /// one per runtime, so an incarnation started before the last one stopped keeps the same counters.
    /// </summary>
    public static NodeMetrics Acquire(string nodeId)
    {
        lock (Gate)
        {
            var metrics = Live.GetOrAdd(nodeId, id => new NodeMetrics(id));
            metrics._users++;
            return metrics;
        }
    }

    /// <summary>Metrics that are reported nowhere: for actors that run outside a node's runtime (specs of one actor).</summary>
    public static NodeMetrics Detached() => new("");

    public LegMetrics Leg(string peer) => _legs.GetOrAdd(peer, p => new LegMetrics(p));

    /// <summary>The peer left the cluster: its series are no longer reported (a receiver started for it later begins anew).</summary>
    public void Forget(string peer) => _legs.TryRemove(peer, out _);

    /// <summary>A write answered after <paramref name="seconds"/>: <paramref name="method"/> is the HTTP method.</summary>
    public void RecordWrite(double seconds, string method, bool succeeded) =>
        WriteDuration.Record(seconds, _nodeTag, new("method", method), new("outcome", succeeded ? "success" : "failure"));

    public void Scrub(long passes, long bytesHashed, long filesVerified, long passFiles, long passBytes, long missing, long corrupt)
    {
        Volatile.Write(ref _scrubPasses, passes);
        Volatile.Write(ref _scrubBytes, bytesHashed);
        Volatile.Write(ref _scrubFilesVerified, filesVerified);
        Volatile.Write(ref _scrubPassFiles, passFiles);
        Volatile.Write(ref _scrubPassBytes, passBytes);
        Volatile.Write(ref _scrubMissing, missing);
        Volatile.Write(ref _scrubCorrupt, corrupt);
    }

    public void LostBlobs(int count) => Volatile.Write(ref _lostBlobs, count);

    /// <summary>Ends one <see cref="Acquire"/>; the node's series go when the last one ends.</summary>
    public void Release()
    {
        lock (Gate)
        {
            if (--_users == 0) Live.TryRemove(new KeyValuePair<string, NodeMetrics>(NodeId, this));
        }
    }

    // ---------------------------------------------------------------- what a collection reads

    private static void PeerGauge(string name, string unit, string description, Func<LegMetrics, long> read) =>
        Meter.CreateObservableGauge(name, () => PerLeg(read), unit, description);

    private static void PeerCounter(string name, string unit, string description, Func<LegMetrics, long> read) =>
        Meter.CreateObservableCounter(name, () => PerLeg(read), unit, description);

    private static void NodeGauge(string name, string unit, string description, Func<NodeMetrics, long> read) =>
        Meter.CreateObservableGauge(name, () => PerNode(read), unit, description);

    private static void NodeCounter(string name, string unit, string description, Func<NodeMetrics, long> read) =>
        Meter.CreateObservableCounter(name, () => PerNode(read), unit, description);

    private static IEnumerable<Measurement<T>> PerLeg<T>(Func<LegMetrics, T> read) where T : struct
    {
        foreach (var node in Live.Values)
            foreach (var leg in node._legs.Values)
                yield return new Measurement<T>(read(leg), node._nodeTag, new("peer", leg.Peer));
    }

    private static IEnumerable<Measurement<long>> PerNode(Func<NodeMetrics, long> read)
    {
        foreach (var node in Live.Values) yield return new Measurement<long>(read(node), node._nodeTag);
    }

    private static IEnumerable<Measurement<long>> Resubscriptions()
    {
        foreach (var node in Live.Values)
            foreach (var leg in node._legs.Values)
                foreach (var reason in LegProblems.All)
                    if (leg.Resubscriptions(reason) is var count and > 0)
                        yield return new Measurement<long>(count, node._nodeTag, new("peer", leg.Peer), new("reason", reason.Tag()));
    }

    private static IEnumerable<Measurement<long>> ScrubDamaged()
    {
        foreach (var node in Live.Values)
        {
            yield return new Measurement<long>(Volatile.Read(ref node._scrubMissing), node._nodeTag, new("kind", "missing"));
            yield return new Measurement<long>(Volatile.Read(ref node._scrubCorrupt), node._nodeTag, new("kind", "corrupt"));
        }
    }
}
