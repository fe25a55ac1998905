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
/// The test plays the peer's sender against a real receiver (real LMDB store, real blob saver, real watermark):
/// a malformed, oversized or out-of-order input is refused with nothing of it applied, the receiver starts
/// over from its watermark, and good input afterwards is applied as usual.
/// </summary>
public sealed class ReceiverBadInputSpec : Akka.TestKit.Xunit2.TestKit
{
    private const string Peer = "peer-a";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly string _dir;
    private readonly RecordStore _store;
    private readonly ReplicationSettings _settings;
    private readonly TestProbe _peer;
    private readonly IActorRef _receiver;

    public ReceiverBadInputSpec(ITestOutputHelper output) : this(TestData.TempDirectory("receiver-bad-input"), output) { }

    private ReceiverBadInputSpec(string dir, ITestOutputHelper output) : base(Config(dir), "receiver-spec", output)
    {
        _dir = dir;
        _settings = ReplicationSettings.Create(Sys.Settings.Config);
        _store = RecordStore.Open(_settings.Store);
        _peer = CreateTestProbe();
        // The peer's hub, at the path the receiver subscribes to.
        Sys.ActorOf(Props.Create(() => new Forwarder(_peer.Ref)), ReplicationHub.Name);
        _receiver = Sys.ActorOf(Receiver.Props(Peer, ((ExtendedActorSystem)Sys).Provider.DefaultAddress, _store, _settings), "receiver");
    }

    private static Config Config(string dir) => ConfigurationFactory.ParseString($$"""
        cluster-node.data-dir = "{{dir.Replace("\\", "/")}}"
        cluster-node.replication.resubscribe-backoff = 50ms
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.local"
        akka.persistence.snapshot-store.local.dir = "{{dir.Replace("\\", "/")}}/snapshots"
        """).WithDefaults();

    [Fact]
    public async Task Receiver_must_refuse_a_frame_with_a_bad_name_and_apply_none_of_it()
    {
        var first = await NextSubscription();
        var payload = new ByteWriter();
        RecordFrameCodec.Append(payload, 1, Record("people", "ok-1"));
        RecordFrameCodec.Append(payload, 2, Record("people", "a/b"));
        _receiver.Tell(new RecordFrame(first.Epoch, 0, 2, 2, payload.ToArray()), _peer.Ref);

        var again = await NextSubscription();
        Assert.Equal(1, again.FromSequence); // from the watermark: nothing of the frame counted
        Assert.True(again.Epoch > first.Epoch);
        Assert.Null(_store.Get("people", "ok-1"));

        await SendGoodFrameAndExpectItApplied(again);
    }

    [Fact]
    public async Task Receiver_must_refuse_a_truncated_frame()
    {
        var first = await NextSubscription();
        var payload = new ByteWriter();
        RecordFrameCodec.Append(payload, 1, Record("people", "ok-1"));
        var truncated = payload.Written[..^3].ToArray();
        _receiver.Tell(new RecordFrame(first.Epoch, 0, 1, 1, truncated), _peer.Ref);

        var again = await NextSubscription();
        Assert.Equal(1, again.FromSequence);
        Assert.Null(_store.Get("people", "ok-1"));
        await SendGoodFrameAndExpectItApplied(again);
    }

    [Fact]
    public async Task Receiver_must_refuse_an_oversized_frame()
    {
        var first = await NextSubscription();
        _receiver.Tell(new RecordFrame(first.Epoch, 0, 1, 0, new byte[_settings.MaxFramePayloadBytes + 1]), _peer.Ref);

        var again = await NextSubscription();
        Assert.Equal(1, again.FromSequence);
        Assert.Equal(0, _store.LastSequence);
        await SendGoodFrameAndExpectItApplied(again);
    }

    [Theory]
    [InlineData("count")]
    [InlineData("future-version")]
    [InlineData("absurd-sequence")]
    public async Task Receiver_must_refuse_a_hostile_frame_and_apply_none_of_it(string attack)
    {
        var first = await NextSubscription();
        var payload = new ByteWriter();
        // No working clock mints this (a peer's clock that is merely days fast is taken: see the spec below).
        var farFuture = new RecordVersion((ulong)DateTimeOffset.UtcNow.AddYears(200).ToUnixTimeMilliseconds() << 16, Peer);
        RecordFrameCodec.Append(payload, 1, attack == "future-version" ? Record("people", "ok-1") with { Version = farFuture } : Record("people", "ok-1"));
        var frame = attack switch
        {
            "count" => new RecordFrame(first.Epoch, 0, 1, int.MaxValue, payload.ToArray()), // would ask for gigabytes up front
            "absurd-sequence" => new RecordFrame(first.Epoch, 0, long.MaxValue, 1, payload.ToArray()),
            _ => new RecordFrame(first.Epoch, 0, 1, 1, payload.ToArray()),
        };
        _receiver.Tell(frame, _peer.Ref);

        var again = await NextSubscription();
        Assert.Equal(1, again.FromSequence);
        Assert.Null(_store.Get("people", "ok-1"));
        Assert.True(_store.Clock.Last < farFuture.Hlc, "a refused version must not move this node's clock");
        // The peer's hub says how far its log goes: the lag shows what this follower lacks, and why.
        _receiver.Tell(new Receiver.PeerSeen(1));
        await AwaitAssertAsync(async () =>
        {
            var status = await _receiver.Ask<Receiver.PeerStatus>(Receiver.GetStatus.Instance, Patience);
            Assert.Equal(1, status.PeerLastSequence - status.PersistedCursor);
            Assert.False(string.IsNullOrEmpty(status.LastProblem));
        }, Patience);
        await SendGoodFrameAndExpectItApplied(again);
    }

    [Fact]
    public async Task A_frame_lost_in_transit_is_noticed_by_the_next_one_and_the_cursor_never_passes_the_gap()
    {
        var first = await NextSubscription();
        var one = new ByteWriter();
        RecordFrameCodec.Append(one, 1, Record("people", "p1"));
        RecordFrameCodec.Append(one, 2, Record("people", "p2"));
        _receiver.Tell(new RecordFrame(first.Epoch, 0, 2, 2, one.ToArray()), _peer.Ref);
        // The frame of 3..5 is lost (Akka.Remote dropped it while the address was gated); 6..6 arrives.
        var three = new ByteWriter();
        RecordFrameCodec.Append(three, 6, Record("people", "p6"));
        _receiver.Tell(new RecordFrame(first.Epoch, 5, 6, 1, three.ToArray()), _peer.Ref);

        var again = await NextSubscription();
        Assert.Equal(3, again.FromSequence); // resumes right after what was applied, not after the gap
        Assert.NotNull(_store.Get("people", "p2"));
        Assert.Null(_store.Get("people", "p6"));
        var status = await _receiver.Ask<Receiver.PeerStatus>(Receiver.GetStatus.Instance, Patience);
        Assert.InRange(status.PersistedCursor, 0, 2);

        // A duplicate of the first frame in the new epoch goes back: refused too, nothing moves.
        _receiver.Tell(new RecordFrame(again.Epoch, 0, 2, 2, one.ToArray()), _peer.Ref);
        var third = await NextSubscription();
        Assert.Equal(3, third.FromSequence);
    }

    [Fact]
    public async Task A_copy_frame_lost_in_transit_is_noticed_by_the_next_one_and_nothing_after_the_gap_is_applied()
    {
        var first = await NextSubscription();
        var one = new ByteWriter();
        RecordFrameCodec.Append(one, 1, Record("people", "c1"));
        _receiver.Tell(new CopyFrame(first.Epoch, 10, [], 0, 1, one.ToArray(), false), _peer.Ref);
        // The copy frame of positions 2..3 is lost; position 4 arrives.
        var four = new ByteWriter();
        RecordFrameCodec.Append(four, 4, Record("people", "c4"));
        _receiver.Tell(new CopyFrame(first.Epoch, 10, [], 3, 1, four.ToArray(), true), _peer.Ref);

        var again = await NextSubscription();
        Assert.True(again.Epoch > first.Epoch);
        Assert.NotNull(_store.Get("people", "c1"));
        Assert.Null(_store.Get("people", "c4"));
        var status = await _receiver.Ask<Receiver.PeerStatus>(Receiver.GetStatus.Instance, Patience);
        Assert.Equal(0, status.PersistedCursor); // the copy was not done: the cursor does not move to its start
    }

    [Fact]
    public async Task A_record_from_a_peer_whose_clock_is_days_fast_is_taken_without_dragging_this_nodes_clock()
    {
        var first = await NextSubscription();
        var twoDaysAhead = new RecordVersion((ulong)DateTimeOffset.UtcNow.AddDays(2).ToUnixTimeMilliseconds() << 16, Peer);
        var payload = new ByteWriter();
        RecordFrameCodec.Append(payload, 1, Record("people", "fast") with { Version = twoDaysAhead });
        _receiver.Tell(new RecordFrame(first.Epoch, 0, 1, 1, payload.ToArray()), _peer.Ref);

        await AwaitAssertAsync(() => Assert.NotNull(_store.Get("people", "fast")), Patience);
        var clockMs = HybridLogicalClock.PhysicalMs(_store.Clock.Last);
        Assert.InRange(clockMs, 0, DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeMilliseconds());
        // An overwrite here still beats the version it replaces, so the next write of this record wins everywhere.
        var overwrite = _store.PutData("people", "fast", "{\"by\":\"here\"}"u8.ToArray());
        Assert.True(overwrite.Record.Version > twoDaysAhead);
    }

    [Fact]
    public async Task Receiver_must_not_let_the_cursor_pass_a_blob_whose_chunks_arrive_out_of_order()
    {
        var first = await NextSubscription();
        var blobBytes = TestData.Blob(1, 3000);
        var blob = new BlobRef("file", Persistence.Blobs.BlobStore.NewFileId(), blobBytes.Length, System.Security.Cryptography.SHA256.HashData(blobBytes));
        var payload = new ByteWriter();
        RecordFrameCodec.Append(payload, 1, Record("docs", "d1") with { Blobs = [blob] });
        _receiver.Tell(new RecordFrame(first.Epoch, 0, 5, 1, payload.ToArray()), _peer.Ref);
        // The second half first: refused.
        _receiver.Tell(new BlobChunk(first.Epoch, 1, blob.FileId, 1500, blobBytes[1500..]), _peer.Ref);

        var again = await NextSubscription();
        Assert.Equal(1, again.FromSequence); // the record is visible, but the cursor stays below it
        Assert.NotNull(_store.Get("docs", "d1"));
        Assert.False(_store.Blobs.IsPresent(blob));
        var status = await _receiver.Ask<Receiver.PeerStatus>(Receiver.GetStatus.Instance, Patience);
        Assert.Equal(0, status.PersistedCursor);

        // The re-streamed record of the same version re-saves the blob, and the cursor moves on.
        _receiver.Tell(new RecordFrame(again.Epoch, 0, 5, 1, payload.ToArray()), _peer.Ref);
        _receiver.Tell(new BlobChunk(again.Epoch, 1, blob.FileId, 0, blobBytes[..1500]), _peer.Ref);
        _receiver.Tell(new BlobChunk(again.Epoch, 1, blob.FileId, 1500, blobBytes[1500..]), _peer.Ref);
        await AwaitAssertAsync(async () =>
        {
            var now = await _receiver.Ask<Receiver.PeerStatus>(Receiver.GetStatus.Instance, Patience);
            Assert.Equal(5, now.PersistedCursor);
        }, Patience);
        Assert.True(_store.Blobs.Verify(blob));
    }

    /// <summary>The next subscription, skipping the credit the receiver returns meanwhile.</summary>
    private async Task<Subscribe> NextSubscription() =>
        (Subscribe)await _peer.FishForMessageAsync(m => m is Subscribe, Patience);

    private async Task SendGoodFrameAndExpectItApplied(Subscribe subscription)
    {
        var payload = new ByteWriter();
        RecordFrameCodec.Append(payload, 1, Record("people", "ok-1"));
        _receiver.Tell(new RecordFrame(subscription.Epoch, 0, 1, 1, payload.ToArray()), _peer.Ref);
        await _peer.FishForMessageAsync(m => m is Credit c && c.Epoch == subscription.Epoch, Patience);
        Assert.Equal("{\"ok\":true}", System.Text.Encoding.UTF8.GetString(_store.Get("people", "ok-1")!.Data));
    }

    private static StoredRecord Record(string table, string id) =>
        new(table, id, new RecordVersion(1000, Peer), false, "{\"ok\":true}"u8.ToArray(), []);

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
