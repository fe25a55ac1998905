using Akka.Actor;

namespace ClusterNode.Node.Membership;

/// <summary>
/// Protocol of the membership watcher: it follows Akka.Cluster's member and reachability events and tells the
/// replication hub to replicate from every other member that is up, and to stop only when a member is removed
/// (an unreachable member keeps its receiver, which resumes when the network heals). A member that returns is
/// connected again, and its receiver resumes from the persisted cursor. A quarantined ActorSystem is stopped, for
/// the host to start a new one.
/// </summary>
public static class ClusterMembership
{
    public const string Name = "membership";

    public static Props Props(IActorRef hub) => Akka.Actor.Props.Create(() => new ClusterMembershipActor(hub));
}
