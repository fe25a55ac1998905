using Akka.Actor;
using Akka.Event;
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

    private readonly RecordStore _store;
    private readonly ReplicationSettings _settings;
    private readonly string? _journalPluginId;
    private readonly string? _snapshotPluginId;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, IActorRef> _senders = new();
    private readonly Dictionary<string, (IActorRef Receiver, Address Address)> _receivers = new();
    private readonly HashSet<Address> _connecting = new();
    private readonly Action<long> _onAppended;

    public ReplicationHubActor(RecordStore store, ReplicationSettings settings, string? journalPluginId, string? snapshotPluginId)
    {
        _store = store;
        _settings = settings;
        _journalPluginId = journalPluginId;
        _snapshotPluginId = snapshotPluginId;
        var self = Self;
        _onAppended = last => self.Tell(new AuditLogSender.AuditAppended(last));

        Receive<Subscribe>(OnSubscribe);
        Receive<AuditLogSender.AuditAppended>(appended =>
        {
            foreach (var sender in _senders.Values) sender.Tell(appended);
        });
        Receive<WhoAreYou>(_ => Sender.Tell(new NodeIdentity(_store.NodeId)));
        Receive<ConnectPeer>(connect =>
        {
            if (_receivers.Values.Any(r => r.Address == connect.Address) || !_connecting.Add(connect.Address)) return;
            Self.Tell(new AskIdentity(connect.Address));
        });
        Receive<AskIdentity>(ask =>
        {
            if (!_connecting.Contains(ask.Address)) return;
            Context.ActorSelection(new RootActorPath(ask.Address) / "user" / Name).Tell(WhoAreYou.Instance);
            // Until the peer answers (it may still be starting), ask again.
            Timers.StartSingleTimer(("identify", ask.Address), ask, _settings.ResubscribeBackoff);
        });
        Receive<NodeIdentity>(identity => OnIdentity(identity, Sender.Path.Address));
        Receive<DisconnectPeer>(disconnect =>
        {
            _connecting.Remove(disconnect.Address);
            foreach (var (peer, (receiver, _)) in _receivers.Where(r => r.Value.Address == disconnect.Address).ToList())
            {
                Context.Stop(receiver);
                _receivers.Remove(peer);
            }
        });
        Receive<Terminated>(terminated =>
        {
            foreach (var (follower, sender) in _senders.Where(s => s.Value.Equals(terminated.ActorRef)).ToList()) _senders.Remove(follower);
            foreach (var (peer, _) in _receivers.Where(r => r.Value.Receiver.Equals(terminated.ActorRef)).ToList()) _receivers.Remove(peer);
        });
        Receive<GetStatus>(_ => OnGetStatus());
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart() => _store.Appended += _onAppended;

    protected override void PostStop() => _store.Appended -= _onAppended;

    private void OnSubscribe(Subscribe subscribe)
    {
        if (!RecordStore.IsValidNodeId(subscribe.FollowerNodeId) || subscribe.FollowerNodeId == _store.NodeId || subscribe.FromSequence < 1 || subscribe.WindowBytes <= 0)
        {
            _log.Error("refused subscription {0}: follower id, start sequence or window is invalid", subscribe);
            return;
        }
        // The newest subscription of a follower replaces its previous one.
        if (_senders.Remove(subscribe.FollowerNodeId, out var previous))
        {
            Context.Unwatch(previous);
            Context.Stop(previous);
        }
        var sender = Context.ActorOf(AuditLogSender.Props(subscribe, _store, _settings), $"sender-{subscribe.FollowerNodeId}-{subscribe.Epoch}");
        Context.Watch(sender);
        _senders[subscribe.FollowerNodeId] = sender;
    }

    private void OnIdentity(NodeIdentity identity, Address address)
    {
        if (!_connecting.Remove(address)) return;
        Timers.Cancel(("identify", address));
        if (!RecordStore.IsValidNodeId(identity.NodeId) || identity.NodeId == _store.NodeId)
        {
            _log.Error("peer at {0} answered with node id '{1}', which is invalid or this node's own; not replicating from it", address, identity.NodeId);
            return;
        }
        if (_receivers.TryGetValue(identity.NodeId, out var existing))
        {
            existing.Receiver.Tell(new Receiver.PeerMoved(address));
            _receivers[identity.NodeId] = (existing.Receiver, address);
            return;
        }
        var receiver = Context.ActorOf(Receiver.Props(identity.NodeId, address, _store, _settings, _journalPluginId, _snapshotPluginId), $"receiver-{identity.NodeId}");
        Context.Watch(receiver);
        _receivers[identity.NodeId] = (receiver, address);
    }

    private void OnGetStatus()
    {
        var timeout = TimeSpan.FromSeconds(5);
        var peers = _receivers.Values.Select(r => r.Receiver.Ask<Receiver.PeerStatus>(Receiver.GetStatus.Instance, timeout)).ToArray();
        var followers = _senders.Values.Select(s => s.Ask<AuditLogSender.FollowerStatus>(AuditLogSender.GetStatus.Instance, timeout)).ToArray();
        var (nodeId, last) = (_store.NodeId, _store.LastSequence);
        Compose().PipeTo(Sender);

        async Task<NodeStatus> Compose() =>
            new(nodeId, last, await Task.WhenAll(peers), await Task.WhenAll(followers));
    }
}
