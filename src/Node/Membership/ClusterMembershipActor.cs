using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Remote;
using ClusterNode.Actors.Replication;

namespace ClusterNode.Node.Membership;

internal sealed class ClusterMembershipActor : ReceiveActor
{
    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly IActorRef _hub;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<Address, long> _incarnations = new();

    public ClusterMembershipActor(IActorRef hub)
    {
        _hub = hub;
        Receive<ClusterEvent.MemberUp>(up => Connect(up.Member, "up"));
        // Admitted is enough: a joining member (a restarted one above all) subscribes to this node as soon as it is
        // welcomed, a leader tick before it is Up, and a hub refuses a node it has not been told to connect to; the
        // refused follower would wait for its stream's silence to be noticed (seconds) before asking again.
        Receive<ClusterEvent.MemberJoined>(joined => Connect(joined.Member, "joining"));
        // While an unreachable member blocks convergence, a new one is only WeaklyUp: replicate from it already.
        Receive<ClusterEvent.MemberWeaklyUp>(weaklyUp => Connect(weaklyUp.Member, "weakly up"));
        Receive<ClusterEvent.ReachableMember>(reachable =>
        {
            if (reachable.Member.Status is MemberStatus.Up or MemberStatus.WeaklyUp) Connect(reachable.Member, "reachable again");
        });
        // Unreachable is not gone: the receiver stays, keeps its cursor and re-subscribes until the peer answers, so
        // replication resumes by itself when the network heals. Only a removed member is let go.
        Receive<ClusterEvent.UnreachableMember>(unreachable =>
            _log.Warning("member {0} is unreachable; replication from it resumes when it is back", unreachable.Member.Address));
        Receive<ClusterEvent.MemberRemoved>(removed =>
        {
            // Akka may publish a new incarnation's Up before its old one's Removed: the leg now follows the new one.
            if (_incarnations.TryGetValue(removed.Member.Address, out var current) && current != removed.Member.UniqueAddress.Uid) return;
            _incarnations.Remove(removed.Member.Address);
            Disconnect(removed.Member, "removed");
        });
        Receive<ClusterEvent.IMemberEvent>(_ => { });
        Receive<ThisActorSystemQuarantinedEvent>(quarantined =>
        {
            // A peer will never talk to this ActorSystem again; the host starts a new one on the same store, which
            // joins as a new incarnation.
            _log.Warning("this node was quarantined by {0}; stopping this ActorSystem so that a new one joins", quarantined.RemoteAddress);
            Context.System.Terminate();
        });
    }

    protected override void PreStart()
    {
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
            typeof(ClusterEvent.IMemberEvent), typeof(ClusterEvent.IReachabilityEvent));
        Context.System.EventStream.Subscribe(Self, typeof(ThisActorSystemQuarantinedEvent));
    }

    protected override void PostStop()
    {
        _cluster.Unsubscribe(Self);
        Context.System.EventStream.Unsubscribe(Self);
    }

    private void Connect(Member member, string why)
    {
        if (member.Address == _cluster.SelfAddress) return;
        _incarnations[member.Address] = member.UniqueAddress.Uid;
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
