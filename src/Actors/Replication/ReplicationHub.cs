using Akka.Actor;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Actors.Replication;

/// <summary>
/// Protocol of the replication hub, one per node at <c>/user/replication</c>. It answers subscriptions from
/// followers by starting a sender for each, and starts a receiver for each peer it is told to connect to,
/// keyed by the peer's stable node id (asked from the peer's hub) rather than its address.
/// </summary>
public static class ReplicationHub
{
    public const string Name = "replication";

    public static Props Props(RecordStore store, ReplicationSettings settings, string? journalPluginId = null, string? snapshotPluginId = null) =>
        Akka.Actor.Props.Create(() => new ReplicationHubActor(store, settings, journalPluginId, snapshotPluginId));

    public interface ICommand;

    /// <summary>Start replicating from the node at <paramref name="Address"/> (a member came up).</summary>
    public sealed record ConnectPeer(Address Address) : ICommand;

    /// <summary>Stop replicating from the node at <paramref name="Address"/> (a member was removed).</summary>
    public sealed record DisconnectPeer(Address Address) : ICommand;

    /// <summary>From a receiver: this node's cursor for <paramref name="PeerNodeId"/> is on the journal at <paramref name="Sequence"/>.</summary>
    public sealed record PeerCursorPersisted(string PeerNodeId, long Sequence) : ICommand;

    public sealed record GetStatus : ICommand
    {
        public static readonly GetStatus Instance = new();
    }

    /// <param name="WriteRefusal">Why this node refuses writes now (its clock), or null.</param>
    /// <param name="ClockOffsetsMs">Each peer's wall clock minus this node's, as last measured.</param>
    /// <param name="Repair">Blobs being repaired from peers, repaired, and lost everywhere.</param>
    public sealed record NodeStatus(
        string NodeId,
        long LastSequence,
        IReadOnlyList<Receiver.PeerStatus> Peers,
        IReadOnlyList<AuditLogSender.FollowerStatus> Followers,
        string? WriteRefusal = null,
        IReadOnlyDictionary<string, long>? ClockOffsetsMs = null,
        Blobs.BlobRepair.RepairStatus? Repair = null);
}
