using Akka.Actor;

namespace ClusterNode.Node.Membership;

/// <summary>
/// Protocol of the cluster repair: every node tells every node it knows of (the seeds and every member it has seen)
/// which cluster it is in, so that the pieces Akka.Cluster leaves behind after crashes and partitions (a restarted
/// first seed that formed a cluster of its own, a node left joining forever, a dead incarnation still a member) are
/// noticed and joined again. Akka.Cluster never merges two clusters; the smaller one's nodes restart their
/// ActorSystem (in-process, on the same store) and join the larger one.
/// </summary>
public static class ClusterRepair
{
    public const string Name = "cluster-repair";

    /// <param name="rejoin">Replaces this node's ActorSystem with a new one that joins the given member's cluster.</param>
    /// <param name="hub">The replication hub, told to replicate from every node that answers.</param>
    /// <param name="joinPatience">How long this ActorSystem may stay outside every cluster before it is replaced.</param>
    /// <param name="joinTarget">The member whose cluster this ActorSystem was started to join (a split repaired), if any:
    /// then it is the only one this node asks to admit it.</param>
    public static Props Props(Action<Address, string> rejoin, IActorRef hub, TimeSpan interval, TimeSpan joinPatience, Address? joinTarget = null) =>
        Akka.Actor.Props.Create(() => new ClusterRepairActor(rejoin, hub, interval, joinPatience, joinTarget));

    /// <summary>
    /// One node's view, sent to a node it knows of: who it is (address and incarnation), whether it is an Up member,
    /// and the size and lowest address of the cluster it is Up in.
    /// </summary>
    public sealed record ClusterProbe(string Address, long Uid, bool Up, int Members, string LowestMember);
}
