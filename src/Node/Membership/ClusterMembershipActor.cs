using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using ClusterNode.Actors.Replication;

namespace ClusterNode.Node.Membership;

internal sealed class ClusterMembershipActor : ReceiveActor
{
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly IActorRef _hub;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public ClusterMembershipActor(IActorRef hub)
    {
        _hub = hub;
        Receive<ClusterEvent.MemberUp>(up => Connect(up.Member, "up"));
        // While an unreachable member blocks convergence, a new one is only WeaklyUp: replicate from it already.
        Receive<ClusterEvent.MemberWeaklyUp>(weaklyUp => Connect(weaklyUp.Member, "weakly up"));
        Receive<ClusterEvent.ReachableMember>(reachable =>
        {
            if (reachable.Member.Status is MemberStatus.Up or MemberStatus.WeaklyUp) Connect(reachable.Member, "reachable again");
        });
        Receive<ClusterEvent.UnreachableMember>(unreachable => Disconnect(unreachable.Member, "unreachable"));
        Receive<ClusterEvent.MemberExited>(exited => Disconnect(exited.Member, "exited"));
        Receive<ClusterEvent.MemberRemoved>(removed => Disconnect(removed.Member, "removed"));
        Receive<ClusterEvent.IMemberEvent>(_ => { });
    }

    protected override void PreStart() =>
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void Connect(Member member, string why)
    {
        if (member.Address == _cluster.SelfAddress) return;
        _log.Info("member {0} is {1}: replicating from it", member.Address, why);
        _hub.Tell(new ReplicationHub.ConnectPeer(member.Address));
    }

    private void Disconnect(Member member, string why)
    {
        if (member.Address == _cluster.SelfAddress) return;
        _log.Info("member {0} is {1}: no longer replicating from it", member.Address, why);
        _hub.Tell(new ReplicationHub.DisconnectPeer(member.Address));
    }
}
