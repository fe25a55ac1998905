using Akka.Actor;
using Akka.Event;
using ClusterNode.Actors.Telemetry;
using ClusterNode.Actors.Blobs;
using ClusterNode.Persistence.Records;
using static ClusterNode.Actors.Replication.ReplicationHub;

namespace ClusterNode.Actors.Replication;

/// <summary>
/// Starts and stops this node's senders and receivers. Cheap work only: everything that touches the disk runs in
/// the senders and receivers on the I/O dispatcher.
/// </summary>
internal sealed class ReplicationHubActor : ReceiveActor, IWithTimers
{
    private sealed record AskIdentity(Address Address);

    private sealed record CheckPeers
    {
        public static readonly CheckPeers Instance = new();
    }

    /// <summary>A peer's wall clock minus this node's, how far off that reading may be (half the round trip), and when it was taken.</summary>
    private readonly record struct ClockReading(long OffsetMs, long UncertaintyMs, long TakenAtTicks);

    private readonly RecordStore _store;
    private readonly ReplicationSettings _settings;
    private readonly string? _journalPluginId;
    private readonly string? _snapshotPluginId;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, IActorRef> _senders = new();
    private readonly Dictionary<string, (IActorRef Receiver, Address Address)> _receivers = new();
    // Receivers told to stop and not yet terminated, and where their peer answered meanwhile: a peer's next receiver
    // starts only when its previous one is gone, or two cursor stores of one persistence id would write at once.
    private readonly Dictionary<string, IActorRef> _stoppingReceivers = new();
    private readonly Dictionary<string, (Address Address, NodeIdentity Identity)> _startWhenStopped = new();
    private readonly HashSet<Address> _connecting = new();
    private readonly Dictionary<string, ClockReading> _peerClocks = new();
    private readonly Dictionary<string, long> _persistedCursors = new();
    private long _started;
    private readonly Action<long> _onAppended;
    private readonly Action<BlobDamage> _onBlobDamaged;
    private IActorRef _blobServer = ActorRefs.Nobody;
    private IActorRef _blobRepair = ActorRefs.Nobody;

    public ReplicationHubActor(RecordStore store, ReplicationSettings settings, string? journalPluginId, string? snapshotPluginId)
    {
        _store = store;
        _settings = settings;
        _journalPluginId = journalPluginId;
        _snapshotPluginId = snapshotPluginId;
        var self = Self;
        _onAppended = last => self.Tell(new AuditLogSender.AuditAppended(last));
        _onBlobDamaged = damage => self.Tell(new BlobRepair.Repair(damage));

        Receive<Subscribe>(OnSubscribe);
        Receive<FetchBlob>(fetch =>
        {
            // Blob bytes go only to a node this hub replicates with, as record frames do.
            if (IsKnownPeer(Sender.Path.Address)) _blobServer.Forward(fetch);
            else _log.Warning("refused a blob request from {0}: not a member this node replicates with", Sender.Path.Address);
        });
        Receive<BlobRepair.Repair>(repair => _blobRepair.Forward(repair));
        Receive<AuditLogSender.AuditAppended>(appended =>
        {
            foreach (var sender in _senders.Values) sender.Tell(appended);
        });
        Receive<WhoAreYou>(ask => Sender.Tell(new NodeIdentity(_store.NodeId, ask.SentAtMs, _store.Clock.WallClockMs(), _store.LastSequence, _settings.Limits, _store.IncarnationId)));
        // Kept here, in this mailbox, so that a peer's answer is compared only with cursors of frames that arrived
        // before it (Akka.Remote keeps one association's messages in order): never a false "log went back".
        Receive<PeerCursorPersisted>(persisted => _persistedCursors[persisted.PeerNodeId] = persisted.Sequence);
        Receive<ConnectPeer>(connect =>
        {
            if (_receivers.Values.Any(r => r.Address == connect.Address))
            {
                // Reachable again: ask now, and the answer wakes a receiver whose stream went quiet meanwhile.
                Ask(connect.Address);
                return;
            }
            if (!_connecting.Add(connect.Address)) return;
            Self.Tell(new AskIdentity(connect.Address));
        });
        Receive<AskIdentity>(ask =>
        {
            if (!_connecting.Contains(ask.Address)) return;
            Ask(ask.Address);
            // Until the peer answers (it may still be starting), ask again.
            Timers.StartSingleTimer(("identify", ask.Address), ask, _settings.ResubscribeBackoff);
        });
        Receive<CheckPeers>(_ =>
        {
            foreach (var address in _receivers.Values.Select(r => r.Address).Distinct()) Ask(address);
            UpdateWriteRefusal(); // readings of peers that no longer answer expire
        });
        Receive<NodeIdentity>(identity => OnIdentity(identity, Sender.Path.Address));
        Receive<DisconnectPeer>(disconnect =>
        {
            _connecting.Remove(disconnect.Address);
            foreach (var (peer, (receiver, _)) in _receivers.Where(r => r.Value.Address == disconnect.Address).ToList())
            {
                Context.Stop(receiver);
                _stoppingReceivers[peer] = receiver;
                _receivers.Remove(peer);
                _peerClocks.Remove(peer);
                NodeTelemetry.Of(Context.System).Forget(peer); // a removed member's series end with it
            }
            foreach (var peer in _startWhenStopped.Where(s => s.Value.Address == disconnect.Address).Select(s => s.Key).ToList()) _startWhenStopped.Remove(peer);
            UpdateWriteRefusal();
            TellRepairMembers();
        });
        Receive<Terminated>(terminated =>
        {
            foreach (var (follower, sender) in _senders.Where(s => s.Value.Equals(terminated.ActorRef)).ToList()) _senders.Remove(follower);
            foreach (var (peer, _) in _receivers.Where(r => r.Value.Receiver.Equals(terminated.ActorRef)).ToList())
            {
                _receivers.Remove(peer);
                TellRepairMembers();
            }
            foreach (var (peer, _) in _stoppingReceivers.Where(r => r.Value.Equals(terminated.ActorRef)).ToList())
            {
                _stoppingReceivers.Remove(peer);
                if (_startWhenStopped.Remove(peer, out var start)) StartReceiver(peer, start.Address, start.Identity);
            }
        });
        Receive<GetStatus>(_ => OnGetStatus());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        _blobServer = Context.ActorOf(BlobServer.Props(_store, _settings), BlobServer.Name);
        _blobRepair = Context.ActorOf(BlobRepair.Props(_store, _settings), BlobRepair.Name);
        _store.Appended += _onAppended;
        _store.BlobDamaged += _onBlobDamaged;
        // A refusal is this incarnation's judgement from its own readings; the previous one's does not carry over.
        _store.WriteRefusal = null;
        Timers.StartPeriodicTimer(CheckPeers.Instance, CheckPeers.Instance, _settings.PeerCheckInterval);
    }

    /// <summary>Asks the hub at <paramref name="address"/> for its id, clock and last sequence.</summary>
    private void Ask(Address address) =>
        Context.ActorSelection(new RootActorPath(address) / "user" / Name).Tell(new WhoAreYou(_store.Clock.WallClockMs()));

    protected override void PostStop()
    {
        _store.Appended -= _onAppended;
        _store.BlobDamaged -= _onBlobDamaged;
    }

    /// <summary>The blob repair asks the nodes this node replicates from.</summary>
    private void TellRepairMembers() =>
        _blobRepair.Tell(new BlobRepair.Members(_receivers.Values.Select(r => r.Address).Distinct().ToArray()));

    private void OnSubscribe(Subscribe subscribe)
    {
        // A Subscribe costs a full copy of the data and can replace a follower's stream: only a member may send one,
        // for a receiver of its own. The sender's address comes from the transport; the receiver path is what the
        // requester wrote, so it must name that same node, or one node could aim a stream at another.
        var from = Sender.Path.Address;
        if (subscribe.Receiver.Path.Address != from || !IsKnownPeer(from))
        {
            var reason = subscribe.Receiver.Path.Address != from ? "its receiver is not at the sender's address" : "the sender is not a member this node replicates with";
            _log.Warning("refused subscription from {0} for follower {1} with receiver {2}: {3}", from, subscribe.FollowerNodeId, subscribe.Receiver.Path, reason);
            // The answer goes to the sender (the transport's, never the receiver the request names) and holds only the
            // refusal: a restarted member this node has not learnt of yet asks again soon instead of waiting for silence.
            Sender.Tell(new SubscribeRefused(subscribe.Epoch, reason));
            return;
        }
        if (!RecordStore.IsValidNodeId(subscribe.FollowerNodeId) || subscribe.FollowerNodeId == _store.NodeId || subscribe.FromSequence < 1 || subscribe.WindowBytes <= 0)
        {
            _log.Error("refused subscription {0}: follower id, start sequence or window is invalid", subscribe);
            Sender.Tell(new SubscribeRefused(subscribe.Epoch, "follower id, start sequence or window is invalid"));
            return;
        }
        // The newest subscription of a follower replaces its previous one.
        if (_senders.Remove(subscribe.FollowerNodeId, out var previous))
        {
            Context.Unwatch(previous);
            Context.Stop(previous);
        }
        // A unique name: the previous sender (or one of a repeated Subscribe) may still be stopping.
        var sender = Context.ActorOf(AuditLogSender.Props(subscribe, _store, _settings), $"sender-{subscribe.FollowerNodeId}-{++_started}");
        Context.Watch(sender);
        _senders[subscribe.FollowerNodeId] = sender;
    }

    /// <summary>
    /// A node this hub was told to connect to (a cluster member, see ConnectPeer) and not told to let go: one it has a
    /// receiver for, is asking for its identity, or will start a receiver for.
    /// </summary>
    private bool IsKnownPeer(Address address) =>
        !address.HasLocalScope &&
        (_connecting.Contains(address) || _receivers.Values.Any(r => r.Address == address) || _startWhenStopped.Values.Any(s => s.Address == address));

    private void OnIdentity(NodeIdentity identity, Address address)
    {
        var connecting = _connecting.Remove(address);
        if (connecting) Timers.Cancel(("identify", address));
        if (!RecordStore.IsValidNodeId(identity.NodeId) || identity.NodeId == _store.NodeId)
        {
            if (connecting) _log.Error("peer at {0} answered with node id '{1}', which is invalid or this node's own; not replicating from it", address, identity.NodeId);
            return;
        }
        TightenLimits(identity);
        if (_receivers.TryGetValue(identity.NodeId, out var existing))
        {
            if (existing.Address != address)
            {
                if (!connecting) return; // a late answer from an address the peer has left
                existing.Receiver.Tell(new Receiver.PeerMoved(address));
                _receivers[identity.NodeId] = (existing.Receiver, address);
                TellRepairMembers();
            }
            MeasureClock(identity);
            existing.Receiver.Tell(Seen(identity));
            return;
        }
        if (!connecting) return;
        MeasureClock(identity);
        if (_stoppingReceivers.ContainsKey(identity.NodeId)) _startWhenStopped[identity.NodeId] = (address, identity);
        else StartReceiver(identity.NodeId, address, identity);
    }

    /// <summary>
    /// What the peer's answer tells its receiver: its log's end and incarnation, and whether its log went back below
    /// this node's persisted cursor for it (restored from an older copy of its data-dir).
    /// </summary>
    private Receiver.PeerSeen Seen(NodeIdentity identity) =>
        new(identity.LastSequence, identity.IncarnationId, _persistedCursors.GetValueOrDefault(identity.NodeId) > identity.LastSequence);

    private void StartReceiver(string peer, Address address, NodeIdentity identity)
    {
        // A unique name as well: a stopped actor's name is free only once its parent has processed its termination.
        var receiver = Context.ActorOf(Receiver.Props(peer, address, _store, _settings, _journalPluginId, _snapshotPluginId), $"receiver-{peer}-{++_started}");
        Context.Watch(receiver);
        _receivers[peer] = (receiver, address);
        receiver.Tell(Seen(identity));
        TellRepairMembers();
    }

    /// <summary>
    /// What a member would refuse, this node refuses at write time: its limits become the smaller of its own and
    /// every peer's it has met, so no record written here can stall a stream to a member configured tighter.
    /// </summary>
    private void TightenLimits(NodeIdentity identity)
    {
        var peer = identity.Limits;
        if (peer.MaxDataBytes < 1024 || peer.MaxBlobFields < 0 || peer.MaxBlobBytes < 1 || peer.MaxFrameBytes < 1024)
        {
            _log.Error("peer {0} states impossible record limits {1}; ignoring them", identity.NodeId, peer);
            return;
        }
        var before = _store.Limits;
        var after = _store.TightenLimits(peer);
        if (after != before) _log.Warning("record limits tightened to peer {0}'s: {1} (were {2})", identity.NodeId, after, before);
    }

    /// <summary>
    /// Reads the peer's clock against ours from the answer's round trip (NTP's estimate: the peer read its clock
    /// halfway through), then decides whether this node may take writes.
    /// </summary>
    private void MeasureClock(NodeIdentity identity)
    {
        var now = _store.Clock.WallClockMs();
        var roundTrip = now - identity.EchoSentAtMs;
        if (roundTrip < 0 || roundTrip > 60_000) return; // our clock stepped meanwhile, or an answer to an old question
        _peerClocks[identity.NodeId] = new ClockReading(identity.WallClockMs - (identity.EchoSentAtMs + now) / 2, roundTrip / 2 + 1, Environment.TickCount64);
        UpdateWriteRefusal();
    }

    /// <summary>
    /// This node refuses writes while its clock is ahead of most of its peers' by more than the allowed offset:
    /// its versions would beat writes made after them elsewhere. A clock behind does no such harm (an overwrite
    /// here is always issued above the version it replaces), so the nodes that are right keep taking writes.
    /// </summary>
    private void UpdateWriteRefusal()
    {
        var maxOffsetMs = (long)_settings.ClockMaxOffset.TotalMilliseconds;
        var expiredBefore = Environment.TickCount64 - (long)(_settings.PeerCheckInterval * 3).TotalMilliseconds;
        foreach (var stale in _peerClocks.Where(p => p.Value.TakenAtTicks < expiredBefore).Select(p => p.Key).ToList()) _peerClocks.Remove(stale);
        var behindUs = _peerClocks.Where(p => -p.Value.OffsetMs - p.Value.UncertaintyMs > maxOffsetMs).ToList();
        var refusal = behindUs.Count * 2 > _peerClocks.Count
            ? $"this node's clock is {-behindUs.Max(p => p.Value.OffsetMs)} ms ahead of {string.Join(", ", behindUs.Select(p => p.Key))} " +
              $"({behindUs.Count} of {_peerClocks.Count} peers), more than cluster-node.clock.max-offset ({maxOffsetMs} ms): writes are refused until the clocks agree"
            : null;
        if ((_store.WriteRefusal is null) == (refusal is null)) return;
        if (refusal is null) _log.Info("this node's clock agrees with its peers' again: taking writes");
        else _log.Error(refusal);
        _store.WriteRefusal = refusal;
    }

    private void OnGetStatus()
    {
        var timeout = TimeSpan.FromSeconds(5);
        var peers = _receivers.Values.Select(r => r.Receiver.Ask<Receiver.PeerStatus>(Receiver.GetStatus.Instance, timeout)).ToArray();
        var followers = _senders.Values.Select(s => s.Ask<AuditLogSender.FollowerStatus>(AuditLogSender.GetStatus.Instance, timeout)).ToArray();
        var (nodeId, last, refusal) = (_store.NodeId, _store.LastSequence, _store.WriteRefusal);
        var clocks = _peerClocks.ToDictionary(p => p.Key, p => p.Value.OffsetMs);
        var repair = _blobRepair.Ask<BlobRepair.RepairStatus>(BlobRepair.GetStatus.Instance, timeout);
        Compose().PipeTo(Sender);

        async Task<NodeStatus> Compose() =>
            new(nodeId, last, await Task.WhenAll(peers), await Task.WhenAll(followers), refusal, clocks, await repair);
    }
}
