using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using ClusterNode.Actors.Replication;
using static ClusterNode.Node.Membership.ClusterRepair;

namespace ClusterNode.Node.Membership;

/// <summary>
/// Tells every node this one knows of which cluster it is in, and acts on what the others tell it:
/// <list type="bullet">
/// <item>a member of this cluster whose address now answers with another incarnation is dead (an address holds one
/// ActorSystem at a time): it is downed, so that it stops blocking the cluster and its new incarnation can join;</item>
/// <item>a node in another cluster, or in none: if this node's cluster is the smaller one (fewer Up members, then the
/// higher lowest address) for a while, this node joins the other cluster on a new ActorSystem;</item>
/// <item>this node itself, welcomed by no seed for the join patience: it asks again on a new ActorSystem (a new
/// connection), since Akka.Remote can keep losing a seed's answers on the old one;</item>
/// <item>a restarted member (probing at once at start-up): its peers answer at once, replicate with it while it is being
/// admitted, and probe it again the moment they remove its old incarnation, whereupon it asks to be admitted
/// (<see cref="Cluster.Join"/>) rather than waiting for Akka's next join retry.</item>
/// </list>
/// Every side decides for itself from the same rule, so the pieces end up in one cluster without coordination.
/// </summary>
internal sealed class ClusterRepairActor : ReceiveActor, IWithTimers
{
    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }

    private readonly record struct View(bool Up, int Members, string LowestMember);

    private readonly Cluster _cluster = Cluster.Get(Context.System);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Action<Address, string> _rejoin;
    private readonly IActorRef _hub;
    private readonly TimeSpan _interval;
    private readonly TimeSpan _joinPatience;
    private readonly Address? _joinTarget;
    private readonly HashSet<Address> _known = new();
    // Addresses this node has reason to trust: its seeds and the members it has seen. A prober anywhere else is told
    // which cluster this is, but never replicated from (and so never allowed to subscribe): a cluster CA's certificate
    // is not membership, and without TLS anyone can probe.
    private readonly HashSet<Address> _seedsAndMembers = new();
    private readonly Dictionary<Address, Stopwatch> _losingTo = new();
    private readonly Dictionary<Address, (long DeadUid, long LiveUid, Stopwatch Since)> _deadIncarnations = new();
    private readonly Stopwatch _sinceStart = Stopwatch.StartNew();
    private bool _rejoining;

    public ClusterRepairActor(Action<Address, string> rejoin, IActorRef hub, TimeSpan interval, TimeSpan joinPatience, Address? joinTarget)
    {
        _joinTarget = joinTarget;
        _rejoin = rejoin;
        _hub = hub;
        _interval = interval;
        _joinPatience = joinPatience;
        Receive<Tick>(_ =>
        {
            Probe();
            RestartIfNeverAdmitted();
        });
        Receive<ClusterEvent.IMemberEvent>(e =>
        {
            Know(e.Member.Address);
            _seedsAndMembers.Add(e.Member.Address);
            // A member removed here is often one whose new incarnation is knocking (Akka downs the old one at the new
            // one's first Join and admits it only at a later one): tell its address now that it may join.
            if (e is ClusterEvent.MemberRemoved && e.Member.Address != _cluster.SelfAddress) ProbeOne(e.Member.Address);
        });
        Receive<ClusterProbe>(OnProbe);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>How long a split must last before this node acts on it: longer than a join under way takes.</summary>
    private TimeSpan Patience => _interval * 3 > TimeSpan.FromSeconds(10) ? _interval * 3 : TimeSpan.FromSeconds(10);

    protected override void PreStart()
    {
        foreach (var seed in _cluster.Settings.SeedNodes)
        {
            Know(seed);
            _seedsAndMembers.Add(seed);
        }
        _cluster.Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.IMemberEvent));
        Timers.StartPeriodicTimer(Tick.Instance, Tick.Instance, _interval);
        // At once, not an interval from now: a restarted member's peers learn of its new incarnation and answer with
        // their cluster while it is still joining, so replication and its admission start in the first second.
        Probe();
    }

    protected override void PostStop() => _cluster.Unsubscribe(Self);

    private void Know(Address address)
    {
        if (address != _cluster.SelfAddress) _known.Add(address);
    }

    private View Mine()
    {
        var state = _cluster.State;
        var self = _cluster.SelfMember;
        if (self.Status is not (MemberStatus.Up or MemberStatus.WeaklyUp)) return new View(false, 0, "");
        // Unreachable members count too: a large cluster with a flaky link must not give way to a one-node piece.
        var members = state.Members
            .Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp)
            .Select(m => m.Address.ToString())
            .Append(self.Address.ToString())
            .Distinct()
            .ToList();
        return new View(true, members.Count, members.Min(StringComparer.Ordinal)!);
    }

    private ClusterProbe MyProbe()
    {
        var mine = Mine();
        return new ClusterProbe(_cluster.SelfAddress.ToString(), _cluster.SelfUniqueAddress.Uid, mine.Up, mine.Members, mine.LowestMember);
    }

    private void Probe()
    {
        var probe = MyProbe();
        foreach (var address in _known) Context.ActorSelection(new RootActorPath(address) / "user" / Name).Tell(probe);
    }

    private void ProbeOne(Address address) => Context.ActorSelection(new RootActorPath(address) / "user" / Name).Tell(MyProbe());

    private bool Admitted => _cluster.State.Members.Any(m => m.UniqueAddress.Equals(_cluster.SelfUniqueAddress));

    /// <summary>
    /// Until a seed welcomes it, a node is in no cluster's gossip, not even as Joining. Seen after a SIGKILL and a quick
    /// restart under load: the seed got every InitJoin and answered each, but its answers went to the previous
    /// incarnation's dying connection and never arrived; the join retries for ever over the same connection, while a
    /// new ActorSystem's new connection is answered at once.
    /// </summary>
    private void RestartIfNeverAdmitted()
    {
        if (_rejoining || _sinceStart.Elapsed < _joinPatience) return;
        if (Admitted) return;
        var seed = _cluster.Settings.SeedNodes.FirstOrDefault(s => s != _cluster.SelfAddress);
        if (seed is null) return; // this node is its only seed: it forms its own cluster
        _rejoining = true;
        var reason = $"no seed has admitted this node into a cluster for {_sinceStart.Elapsed.TotalSeconds:F0}s; " +
                     $"asking {seed} again on a new ActorSystem (a new connection)";
        _log.Warning(reason);
        _rejoin(seed, reason);
    }

    private void OnProbe(ClusterProbe probe)
    {
        // Who sent it, from the transport rather than from what the message says.
        var from = Sender.Path.Address;
        if (from.HasLocalScope || from == _cluster.SelfAddress || probe.Address != from.ToString()) return;
        Know(from);
        var member = _cluster.State.Members.FirstOrDefault(m => m.Address == from);
        // Replication does not wait for membership: a seed, or an address that was a member, that this cluster does not
        // hold as it is now (a new incarnation the cluster cannot admit yet, while another member is away) is
        // replicated from all the same. Members are connected by the membership watcher already.
        if ((member is null || member.UniqueAddress.Uid != probe.Uid) && _seedsAndMembers.Contains(from)) _hub.Tell(new ReplicationHub.ConnectPeer(from));
        // A node in no cluster yet (joining, or a restarted member whose old incarnation this cluster still holds) hears
        // of this one now rather than at this node's next tick. Only an Up node answers, and only a node that is not Up,
        // so two nodes never answer each other back and forth.
        if ((member is null || member.UniqueAddress.Uid != probe.Uid) && !probe.Up && Mine().Up) Sender.Tell(MyProbe());
        if (member is not null && member.Status is not (MemberStatus.Down or MemberStatus.Removed) && member.UniqueAddress.Uid != probe.Uid)
        {
            DownDeadIncarnation(member, probe.Uid);
            return;
        }
        _deadIncarnations.Remove(from);
        if (member is not null && member.UniqueAddress.Uid == probe.Uid)
        {
            _losingTo.Remove(from); // one cluster, as far as this node sees
            return;
        }
        // This node is not admitted yet and a seed (or former member) says its cluster is Up: ask it to admit this node
        // now, as Akka's own join does with the first seed that answers. Akka retries a join only every
        // retry-unsuccessful-join-after, and a restarted member's first Join only gets its old incarnation downed; the
        // seed probes again when it has removed that one (see MemberRemoved). An ActorSystem started to join a given
        // member's cluster asks only that one, never a seed of the smaller cluster it left.
        if (probe.Up && member is null && !_rejoining && !Admitted && _seedsAndMembers.Contains(from) && (_joinTarget is null || _joinTarget == from))
        {
            _log.Info("{0} is Up in a cluster of {1} and this node is not admitted yet: asking it to admit this node", from, probe.Members);
            _cluster.Join(from);
        }

        var mine = Mine();
        var theirs = new View(probe.Up, probe.Members, probe.LowestMember);
        if (!Loses(mine, theirs, from))
        {
            _losingTo.Remove(from);
            return;
        }
        var since = _losingTo.TryGetValue(from, out var clock) ? clock : _losingTo[from] = Stopwatch.StartNew();
        if (_rejoining || since.Elapsed < Patience || _sinceStart.Elapsed < Patience) return;
        _rejoining = true;
        var reason = $"this node's cluster ({Describe(mine)}) is split from {from}'s ({Describe(theirs)}) for {since.Elapsed.TotalSeconds:F0}s; " +
                     "joining that one on a new ActorSystem";
        _log.Warning(reason);
        _rejoin(from, reason);
    }

    /// <summary>
    /// Only one ActorSystem can hold an address: a member there with another incarnation is dead. This node's view
    /// lags the cluster's gossip by a round or so (the new incarnation may just have been admitted, and a probe
    /// still in flight from an incarnation that just died says nothing of the live one), so the same mismatch must
    /// last two intervals before the dead one is downed.
    /// </summary>
    private void DownDeadIncarnation(Member member, long liveUid)
    {
        var deadUid = member.UniqueAddress.Uid;
        if (!_deadIncarnations.TryGetValue(member.Address, out var seen) || seen.DeadUid != deadUid || seen.LiveUid != liveUid)
        {
            _deadIncarnations[member.Address] = (deadUid, liveUid, Stopwatch.StartNew());
            return;
        }
        if (seen.Since.Elapsed < _interval * 2) return;
        _deadIncarnations.Remove(member.Address);
        _log.Warning("member {0} (incarnation {1}) is dead: its address now runs incarnation {2}; downing the dead one so that the cluster can move on",
            member.Address, deadUid, liveUid);
        _cluster.Down(member.Address);
    }

    /// <summary>
    /// The smaller cluster gives way: fewer Up members, then the higher lowest address, then the higher own address.
    /// A node that is not Up anywhere is still joining (Akka retries the join; a restart would not help while the
    /// cluster cannot admit it), and one that is not Up is no cluster to join.
    /// </summary>
    private bool Loses(View mine, View theirs, Address from)
    {
        if (!theirs.Up || !mine.Up) return false;
        if (mine.Members != theirs.Members) return mine.Members < theirs.Members;
        var byLowest = string.CompareOrdinal(mine.LowestMember, theirs.LowestMember);
        if (byLowest != 0) return byLowest > 0;
        return string.CompareOrdinal(_cluster.SelfAddress.ToString(), from.ToString()) > 0;
    }

    private static string Describe(View view) => view.Up ? $"{view.Members} Up, lowest {view.LowestMember}" : "not Up";
}
