using Akka.Actor;

namespace ClusterNode.Node.Membership;

/// <summary>
/// Protocol of the membership watcher: it follows Akka.Cluster's member and reachability events and tells the
/// replication hub to replicate from every other member that is up, and to stop when a member becomes
/// unreachable or leaves. A member that returns is connected again, and its receiver resumes from the
/// persisted cursor.
/// </summary>
public static class ClusterMembership
{
    public const string Name = "membership";

    public static Props Props(IActorRef hub) => Akka.Actor.Props.Create(() => new ClusterMembershipActor(hub));
}
