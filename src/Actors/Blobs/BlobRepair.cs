using Akka.Actor;
using ClusterNode.Actors.Replication;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Actors.Blobs;

/// <summary>
/// Protocol of the blob repair, the hub's child that fetches a blob found missing or wrong here from any member
/// holding a file with the same sha256, checks it, and puts it in place durably; when every member has answered and
/// none holds it, the blob is lost (kept in the store: reads answer 410 Gone, no cursor waits for it) and is asked
/// for again every <c>cluster-node.repair.lost-retry-interval</c>.
/// </summary>
public static class BlobRepair
{
    public const string Name = "blob-repair";

    public static Props Props(RecordStore store, ReplicationSettings settings) =>
        Akka.Actor.Props.Create(() => new BlobRepairActor(store, settings)).WithDispatcher(settings.IoDispatcher);

    public interface ICommand;

    /// <summary>Repair this blob (reported by a read, the scrub, a stream that cannot bring it, or a peer that asked).</summary>
    public sealed record Repair(BlobDamage Damage) : ICommand;

    /// <summary>The members to ask, from the hub: the nodes it replicates from.</summary>
    public sealed record Members(IReadOnlyList<Address> Addresses) : ICommand;

    public sealed record GetStatus : ICommand
    {
        public static readonly GetStatus Instance = new();
    }

    /// <param name="Repairing">Blobs being fetched now.</param>
    /// <param name="Repaired">Blobs put back in place since this node started.</param>
    /// <param name="Lost">Blobs no member holds, as the store keeps them.</param>
    /// <param name="Unanswered">Requests to members that timed out: such a member never counts as not holding a blob.</param>
    public sealed record RepairStatus(int Repairing, long Repaired, int Lost, long Unanswered);
}
