using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using ClusterNode.Actors;
using ClusterNode.Actors.Replication;
using ClusterNode.Persistence.Binary;
using ClusterNode.Persistence.Records;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Replication;

/// <summary>
/// Issue 8: a follower whose record store is full (a tiny <c>cluster-node.lmdb.map-size</c>) cannot apply its peer's
/// frames until an operator makes room. The test plays the peer's sender against a real receiver: the peer's status
/// says the store is full and names the key, and the receiver re-subscribes seldom rather than at every back-off.
/// </summary>
public sealed class ReceiverStoreFullSpec : Akka.TestKit.Xunit2.TestKit
{
    private const string Peer = "peer-a";
    private static readonly TimeSpan Backoff = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly string _dir;
    private readonly RecordStore _store;
    private readonly TestProbe _peer;
    private readonly IActorRef _receiver;
    private readonly ITestOutputHelper _output;

    public ReceiverStoreFullSpec(ITestOutputHelper output) : this(TestData.TempDirectory("receiver-store-full"), output) { }

    private ReceiverStoreFullSpec(string dir, ITestOutputHelper output) : base(Config(dir), "receiver-full-spec", output)
    {
        _dir = dir;
        _output = output;
        var settings = ReplicationSettings.Create(Sys.Settings.Config);
        _store = RecordStore.Open(settings.Store);
        _peer = CreateTestProbe();
        // The peer's hub, at the path the receiver subscribes to.
        Sys.ActorOf(Props.Create(() => new Forwarder(_peer.Ref)), ReplicationHub.Name);
        _receiver = Sys.ActorOf(Receiver.Props(Peer, ((ExtendedActorSystem)Sys).Provider.DefaultAddress, _store, settings), "receiver");
    }

    private static Config Config(string dir) => ConfigurationFactory.ParseString($$"""
        cluster-node.data-dir = "{{dir.Replace("\\", "/")}}"
        cluster-node.lmdb.map-size = 1 MiB
        cluster-node.replication.resubscribe-backoff = {{Backoff.TotalMilliseconds}}ms
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.local"
        akka.persistence.snapshot-store.local.dir = "{{dir.Replace("\\", "/")}}/snapshots"
        """).WithDefaults();

    [Fact]
    public async Task A_full_store_shows_in_the_peers_status_and_the_receiver_does_not_resubscribe_at_every_backoff()
    {
        var subscription = await NextSubscription();
        var data = System.Text.Encoding.UTF8.GetBytes($$"""{"x":"{{new string('a', 100_000)}}"}""");
        // Frames of one 100 KB record each until one does not fit; 1 MiB holds far fewer than this many.
        Subscribe? again = null;
        var sinceRefused = new Stopwatch();
        var sequence = 0L;
        while (again is null)
        {
            sequence++;
            Assert.True(sequence < 100, "a 1 MiB store took 100 records of 100 KB");
            var payload = new ByteWriter();
            RecordFrameCodec.Append(payload, sequence, new StoredRecord("people", $"r{sequence}", new RecordVersion(1000, Peer), false, data, []));
            sinceRefused.Restart();
            _receiver.Tell(new RecordFrame(subscription.Epoch, sequence - 1, sequence, 1, payload.ToArray()), _peer.Ref);
            var answer = await _peer.FishForMessageAsync(m => m is Credit c && c.Epoch == subscription.Epoch || m is Subscribe, Patience);
            if (answer is Subscribe next) again = next;
        }
        sinceRefused.Stop();

        var status = await _receiver.Ask<Receiver.PeerStatus>(Receiver.GetStatus.Instance, Patience);
        _output.WriteLine($"re-subscribed {sinceRefused.ElapsedMilliseconds} ms after the frame that did not fit; last problem: {status.LastProblem}");
        Assert.Contains("full", status.LastProblem);
        Assert.Contains("cluster-node.lmdb.map-size", status.LastProblem);
        // Trying again at every back-off cannot help until an operator makes room; the wait is ten of them. (Timers
        // fire no earlier than asked, so the margin is only for the clock's resolution.)
        Assert.True(sinceRefused.Elapsed >= 9 * Backoff, $"re-subscribed {sinceRefused.ElapsedMilliseconds} ms after the store was full");
        // Nothing of the frame that did not fit is stored, and the stream resumes from the last one that did.
        Assert.Null(_store.Get("people", $"r{sequence}"));
        Assert.Equal(sequence - 1, _store.LastSequence);
        Assert.True(again.FromSequence <= sequence, $"resumed from {again.FromSequence}, past the refused frame {sequence}");
    }

    private async Task<Subscribe> NextSubscription() =>
        (Subscribe)await _peer.FishForMessageAsync(m => m is Subscribe, Patience);

    private sealed class Forwarder : ReceiveActor
    {
        public Forwarder(IActorRef target) => ReceiveAny(message => target.Forward(message));
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        _store.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
