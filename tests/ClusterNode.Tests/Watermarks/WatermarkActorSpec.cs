using Akka.Actor;
using Akka.Configuration;
using ClusterNode.Actors.Watermarks;
using Xunit;
using Xunit.Abstractions;
using static ClusterNode.Actors.Watermarks.Watermark;

namespace ClusterNode.Tests.Watermarks;

/// <summary>
/// The WatermarkActor with the real cursor store on Akka's in-memory journal and snapshot store (one per
/// ActorSystem, so per test): it resumes from the persisted cursor, never passes a failed blob, ignores reports
/// of earlier subscriptions, and never moves the persisted cursor backwards.
/// </summary>
public sealed class WatermarkActorSpec : Akka.TestKit.Xunit2.TestKit
{
    private static readonly Config Config = ConfigurationFactory.ParseString("""
        akka.loglevel = INFO
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        """);

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    public WatermarkActorSpec(ITestOutputHelper output) : base(Config, output: output)
    {
    }

    // snapshotEvery = 1 is left out here: see Cursor_store_must_keep_its_cursor_when_it_snapshots_every_event.
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(100)]
    public async Task Watermark_must_start_from_the_persisted_cursor_not_zero(int snapshotEvery)
    {
        var first = StartWatermark("peer-a", snapshotEvery);
        Assert.Equal(new ResumeFrom(1, 0), await first.BeginEpoch(1));
        for (var sequence = 1L; sequence <= 42; sequence++)
            first.Commit(1, sequence, sequence == 17 ? new[] { "f17" } : Array.Empty<string>());
        first.BlobDurable(1, 17, "f17");
        await AwaitStatus(first, status => Assert.Equal((42L, 42L), (status.Durable, status.PersistedCursor)));
        await Stop(first);

        var second = StartWatermark("peer-a", snapshotEvery);
        Assert.Equal(new ResumeFrom(1, 42), await second.BeginEpoch(1));
        var status = await second.Status();
        Assert.Equal((42L, 42L, 42L), (status.Committed, status.Durable, status.PersistedCursor));
        for (var sequence = 43L; sequence <= 77; sequence++) second.Commit(1, sequence);
        await AwaitStatus(second, s => Assert.Equal(77, s.PersistedCursor));
        await Stop(second);

        // Recovered again after more events (and, with small snapshotEvery, after snapshots deleted them).
        var third = StartWatermark("peer-a", snapshotEvery);
        Assert.Equal(new ResumeFrom(5, 77), await third.BeginEpoch(5));

        // Cursors are per peer: another peer starts from nothing.
        var other = StartWatermark("peer-b", snapshotEvery);
        Assert.Equal(new ResumeFrom(1, 0), await other.BeginEpoch(1));
    }

    [Fact]
    public async Task Watermark_must_not_pass_a_failed_blob()
    {
        var node = StartWatermark("peer-failed");
        Assert.Equal(new ResumeFrom(1, 0), await node.BeginEpoch(1));
        node.Commit(1, 10, "f10");
        for (var sequence = 11L; sequence <= 20; sequence++) node.Commit(1, sequence);
        node.Tell(new BlobFailed(1, 10, "f10", "disk full"));

        await AwaitStatus(node, status =>
        {
            Assert.Equal(20, status.Committed);
            Assert.Equal(9, status.Durable);
            Assert.Equal(9, status.PersistedCursor);
            Assert.Equal(1, status.OutstandingBlobs);
            Assert.Equal(1, status.FailedBlobs);
            Assert.Equal(11, status.BlobGap);
        });
        await node.Events.FishForMessageAsync<Advanced>(advanced => advanced == new Advanced(1, 20, 9), Timeout);
        // Nothing in flight may still carry the cursor past the failed blob.
        await node.Events.ExpectNoMsgAsync(Quiet);
        Assert.True((await node.Status()).PersistedCursor <= 9);

        // The repair: a new subscription from the durable point re-streams 10 with its blob, and the re-save succeeds.
        Assert.Equal(new ResumeFrom(2, 9), await node.BeginEpoch(2));
        node.Commit(2, 10, "f10");
        for (var sequence = 11L; sequence <= 20; sequence++) node.Commit(2, sequence);
        await AwaitStatus(node, status => Assert.Equal((20L, 9L, 9L), (status.Committed, status.Durable, status.PersistedCursor)));
        node.BlobDurable(2, 10, "f10");
        await AwaitStatus(node, status =>
        {
            Assert.Equal((20L, 20L, 20L), (status.Committed, status.Durable, status.PersistedCursor));
            Assert.Equal((0, 0, 0L), (status.OutstandingBlobs, status.FailedBlobs, status.BlobGap));
        });
        await node.Events.FishForMessageAsync<Advanced>(advanced => advanced == new Advanced(2, 20, 20), Timeout);
    }

    [Fact]
    public async Task Watermark_must_ignore_reports_of_an_earlier_epoch()
    {
        var node = StartWatermark("peer-epochs");
        Assert.Equal(new ResumeFrom(1, 0), await node.BeginEpoch(1));
        node.Commit(1, 4);
        node.Commit(1, 5, "a");
        await AwaitStatus(node, status => Assert.Equal((5L, 4L, 4L), (status.Committed, status.Durable, status.PersistedCursor)));

        Assert.Equal(new ResumeFrom(2, 4), await node.BeginEpoch(2));
        // Late reports of epoch 1, and a stale BeginEpoch, change nothing.
        node.BlobDurable(1, 5, "a");
        node.Commit(1, 30);
        node.Tell(new BlobFailed(1, 5, "a", "late"));
        node.Parent.Tell(new BeginEpoch(1), node.Receiver.Ref);
        var status = await node.Status();
        Assert.Equal((4L, 4L, 0, 0), (status.Committed, status.Durable, status.OutstandingBlobs, status.FailedBlobs));
        await node.Receiver.ExpectNoMsgAsync(Quiet);

        node.Commit(2, 5, "a");
        node.BlobDurable(1, 5, "a"); // still of the old epoch: the blob of epoch 2 may not be saved yet
        status = await node.Status();
        Assert.Equal((5L, 4L, 1), (status.Committed, status.Durable, status.OutstandingBlobs));

        node.BlobDurable(2, 5, "a");
        await AwaitStatus(node, s => Assert.Equal((5L, 5L, 5L), (s.Committed, s.Durable, s.PersistedCursor)));
        await node.Events.FishForMessageAsync<Advanced>(advanced => advanced == new Advanced(2, 5, 5), Timeout);
    }

    [Fact]
    public async Task Persisted_cursor_never_moves_backwards()
    {
        var node = StartWatermark("peer-monotonic", snapshotEvery: 2);
        Assert.Equal(new ResumeFrom(1, 0), await node.BeginEpoch(1));
        for (var sequence = 1L; sequence <= 50; sequence++) node.Commit(1, sequence);
        await AwaitStatus(node, status => Assert.Equal(50, status.PersistedCursor));

        // A new epoch from a lower point: the receiver re-streams older sequences; they are refused.
        Assert.Equal(new ResumeFrom(2, 50), await node.BeginEpoch(2));
        node.Commit(2, 30, "old");
        node.Commit(2, 50, "old");
        node.Commit(2, 51, "new");
        var status = await node.Status();
        Assert.Equal((51L, 50L, 50L, 1), (status.Committed, status.Durable, status.PersistedCursor, status.OutstandingBlobs));

        // The cursor store itself refuses to go back, and says where it is.
        var store = CreateTestProbe();
        Sys.ActorSelection(node.Parent.Path / "child" / "cursor").Tell(new CursorStore.Advance(30), store.Ref);
        Assert.Equal(new CursorStore.Persisted(50), await store.ExpectMsgAsync<CursorStore.Persisted>(Timeout));
        await Stop(node);

        // After a restart the cursor is still 50, and a subscription from it cannot lower it.
        var again = StartWatermark("peer-monotonic", snapshotEvery: 2);
        Assert.Equal(new ResumeFrom(1, 50), await again.BeginEpoch(1));
        again.Commit(1, 51, "new");
        again.Commit(1, 52);
        Assert.Equal(new ResumeFrom(2, 50), await again.BeginEpoch(2));
        status = await again.Status();
        Assert.Equal((50L, 50L, 50L), (status.Committed, status.Durable, status.PersistedCursor));
        await Stop(again);

        // And the cursor store alone, restarted, recovers 50.
        var probe = CreateTestProbe();
        var parent = Sys.ActorOf(Akka.Actor.Props.Create(() => new ParentForwarder(probe.Ref, CursorStore.Props("peer-monotonic", 2, null, null))));
        Assert.Equal(new CursorStore.Recovered(50), await probe.ExpectMsgAsync<CursorStore.Recovered>(Timeout));
        parent.Tell(new CursorStore.Advance(7), store.Ref);
        Assert.Equal(new CursorStore.Persisted(50), await store.ExpectMsgAsync<CursorStore.Persisted>(Timeout));
    }

    [Fact]
    public async Task Cursor_store_must_keep_its_cursor_when_it_snapshots_every_event()
    {
        const string peer = "peer-every-event";
        var events = CreateTestProbe();
        var replies = CreateTestProbe();
        var first = Sys.ActorOf(Akka.Actor.Props.Create(() => new ParentForwarder(events.Ref, CursorStore.Props(peer, 1, null, null))));
        Assert.Equal(new CursorStore.Recovered(0), await events.ExpectMsgAsync<CursorStore.Recovered>(Timeout));
        first.Tell(new CursorStore.Advance(5), replies.Ref);
        Assert.Equal(new CursorStore.Persisted(5), await replies.ExpectMsgAsync<CursorStore.Persisted>(Timeout));

        // Wait until the store has handled its snapshot's success: it then deletes the events the snapshot covers
        // (and, in the same step, sends the snapshot deletion).
        var journal = Akka.Persistence.Persistence.Instance.Apply(Sys).JournalFor(null);
        await AwaitAssertAsync(async () => Assert.Equal(0, await CountJournalEvents(journal, CursorStore.PersistenceIdOf(peer))),
            Timeout, TimeSpan.FromMilliseconds(50));
        await Stop(new WatermarkNode(first, events, replies));

        var second = Sys.ActorOf(Akka.Actor.Props.Create(() => new ParentForwarder(events.Ref, CursorStore.Props(peer, 1, null, null))));
        Assert.Equal(new CursorStore.Recovered(5), await events.ExpectMsgAsync<CursorStore.Recovered>(Timeout));
        second.Tell(new CursorStore.Advance(3), replies.Ref);
        Assert.Equal(new CursorStore.Persisted(5), await replies.ExpectMsgAsync<CursorStore.Persisted>(Timeout));
    }

    private async Task<int> CountJournalEvents(IActorRef journal, string persistenceId)
    {
        var probe = CreateTestProbe();
        journal.Tell(new Akka.Persistence.ReplayMessages(0, long.MaxValue, long.MaxValue, persistenceId, probe.Ref));
        var count = 0;
        while (true)
        {
            var message = await probe.ReceiveOneAsync(Timeout);
            switch (message)
            {
                case Akka.Persistence.ReplayedMessage: count++; break;
                case Akka.Persistence.RecoverySuccess: return count;
                default: throw new InvalidOperationException($"unexpected reply of the journal: {message}");
            }
        }
    }

    [Fact]
    public async Task Watermark_must_stash_until_recovered_and_keep_one_cursor_write_in_flight()
    {
        var store = CreateTestProbe();
        var node = StartWatermark("peer-fake", Akka.Actor.Props.Create(() => new FakeCursorStore(store.Ref)));
        var started = await store.ExpectMsgAsync<FakeStoreStarted>(Timeout);

        // Before the cursor is known nothing is answered.
        node.Parent.Tell(new BeginEpoch(1), node.Receiver.Ref);
        node.Commit(1, 8);
        node.Commit(1, 9);
        await node.Receiver.ExpectNoMsgAsync(Quiet);

        started.Watermark.Tell(new CursorStore.Recovered(7));
        Assert.Equal(new ResumeFrom(1, 7), await node.Receiver.ExpectMsgAsync<ResumeFrom>(Timeout));
        node.Commit(1, 10);
        Assert.Equal(new CursorStore.Advance(8), await store.ExpectMsgAsync<CursorStore.Advance>(Timeout));
        var status = await node.Status();
        Assert.Equal((10L, 10L, 7L), (status.Committed, status.Durable, status.PersistedCursor));
        await store.ExpectNoMsgAsync(Quiet); // one write in flight, however many commits

        started.Watermark.Tell(new CursorStore.Persisted(8));
        Assert.Equal(new CursorStore.Advance(10), await store.ExpectMsgAsync<CursorStore.Advance>(Timeout));
        started.Watermark.Tell(new CursorStore.Persisted(10));
        await AwaitStatus(node, s => Assert.Equal(10, s.PersistedCursor));
        await node.Events.FishForMessageAsync<Advanced>(advanced => advanced == new Advanced(1, 10, 10), Timeout);

        // The store dies with a write in flight: a new one is started and gets the newest durable point.
        node.Commit(1, 11);
        Assert.Equal(new CursorStore.Advance(11), await store.ExpectMsgAsync<CursorStore.Advance>(Timeout));
        node.Commit(1, 12);
        Sys.Stop(started.Store);
        var restarted = await store.ExpectMsgAsync<FakeStoreStarted>(Timeout);
        restarted.Watermark.Tell(new CursorStore.Recovered(10));
        Assert.Equal(new CursorStore.Advance(12), await store.ExpectMsgAsync<CursorStore.Advance>(Timeout));
        restarted.Watermark.Tell(new CursorStore.Persisted(12));
        await AwaitStatus(node, s => Assert.Equal((12L, 12L), (s.Durable, s.PersistedCursor)));
    }

    [Fact]
    public async Task Watermark_must_persist_a_copy_only_up_to_durable_blobs_and_move_the_cursor_once_the_whole_copy_is_durable()
    {
        static byte[] Key(int i) => System.Text.Encoding.UTF8.GetBytes($"t\0r{i}");
        var node = StartWatermark("peer-copy", snapshotEvery: 2);
        Assert.Equal(new ResumeFrom(1, 0), await node.BeginEpoch(1));
        node.Tell(new CopyBegan(1, 500));
        node.Tell(new CopyCommitted(1, 1, Key(1), []));
        node.Tell(new CopyCommitted(1, 2, Key(2), ["blob-2"]));
        node.Tell(new CopyCommitted(1, 3, Key(3), []));
        node.Tell(new CopyDone(1, 3));
        // Only record 1 is below every blob still due: that is the copy's persisted progress, and the cursor waits.
        await AwaitStatus(node, s =>
        {
            Assert.True(s.Copying);
            Assert.Equal(Key(1), s.PersistedCopyKey);
            Assert.Equal(0, s.PersistedCursor);
        });
        await Stop(node);

        // Restarted mid-copy: the copy resumes after record 1, and nothing of the log has been counted.
        var again = StartWatermark("peer-copy", snapshotEvery: 2);
        var resume = await again.BeginEpoch(2);
        Assert.Equal((0L, 500L), (resume.Sequence, resume.CopyStart));
        Assert.Equal(Key(1), resume.CopyAfterKey);
        again.Tell(new CopyBegan(2, 500));
        again.Tell(new CopyCommitted(2, 1, Key(2), ["blob-2"]));
        again.Tell(new CopyCommitted(2, 2, Key(3), []));
        again.Tell(new CopyDone(2, 2));
        again.Commit(2, 501);
        await AwaitStatus(again, s => Assert.Equal((true, 0L), (s.Copying, s.PersistedCursor)));

        again.Tell(new Watermark.BlobDurable(2, 1, "blob-2", InCopy: true));
        await AwaitStatus(again, s => Assert.Equal((false, 501L), (s.Copying, s.PersistedCursor)));
        await Stop(again);

        var third = StartWatermark("peer-copy", snapshotEvery: 2);
        var after = await third.BeginEpoch(3);
        Assert.Equal((501L, 0L, null), (after.Sequence, after.CopyStart, after.CopyAfterKey));
    }

    [Fact]
    public async Task A_peer_restored_under_its_node_id_resets_the_cursor_to_zero_and_the_reset_survives_a_restart()
    {
        var node = StartWatermark("peer-restored", snapshotEvery: 3);
        Assert.Equal(new ResumeFrom(1, 0), await node.BeginEpoch(1));
        for (var sequence = 1L; sequence <= 10; sequence++) node.Commit(1, sequence);
        await AwaitStatus(node, status => Assert.Equal(10, status.PersistedCursor));
        await node.Events.FishForMessageAsync<Advanced>(advanced => advanced == new Advanced(1, 10, 10), Timeout);

        // The first incarnation seen is only recorded; seeing it again changes nothing.
        node.Tell(new PeerIdentified("incarnation-1", LogWentBack: false));
        node.Tell(new PeerIdentified("incarnation-1", LogWentBack: false));
        await node.Events.ExpectNoMsgAsync(Quiet);
        Assert.Equal(10, (await node.Status()).PersistedCursor);

        // Another incarnation under the same node id: its log starts over, so the cursor does.
        node.Tell(new PeerIdentified("incarnation-2", LogWentBack: false));
        await node.Events.FishForMessageAsync<PeerLogStartedOver>(over => over.IncarnationId == "incarnation-2", Timeout);
        Assert.Equal(0, (await node.Status()).PersistedCursor);
        Assert.Equal(new ResumeFrom(2, 0), await node.BeginEpoch(2));
        for (var sequence = 1L; sequence <= 4; sequence++) node.Commit(2, sequence);
        await AwaitStatus(node, status => Assert.Equal(4, status.PersistedCursor));

        // After a restart the new incarnation is known: no second reset; a log that went back below the cursor
        // (restored from an older copy) resets it again.
        await Stop(node);
        var again = StartWatermark("peer-restored", snapshotEvery: 3);
        Assert.Equal(new ResumeFrom(1, 4), await again.BeginEpoch(1));
        again.Tell(new PeerIdentified("incarnation-2", LogWentBack: false));
        await again.Events.ExpectNoMsgAsync(Quiet);
        again.Tell(new PeerIdentified("incarnation-2", LogWentBack: true));
        await again.Events.FishForMessageAsync<PeerLogStartedOver>(over => over.IncarnationId == "incarnation-2", Timeout);
        Assert.Equal(0, (await again.Status()).PersistedCursor);
    }

    private WatermarkNode StartWatermark(string peer, int snapshotEvery = 100) =>
        StartWatermark(peer, CursorStore.Props(peer, snapshotEvery));

    private WatermarkNode StartWatermark(string peer, Akka.Actor.Props cursorStoreProps)
    {
        var events = CreateTestProbe();
        var props = Watermark.Props(peer, cursorStoreProps, TimeSpan.FromMilliseconds(100));
        var parent = Sys.ActorOf(Akka.Actor.Props.Create(() => new ParentForwarder(events.Ref, props)));
        return new WatermarkNode(parent, events, CreateTestProbe());
    }

    private async Task Stop(WatermarkNode node)
    {
        // The parent terminates only after its children, so the cursor store has stopped too.
        var watcher = CreateTestProbe();
        watcher.Watch(node.Parent);
        Sys.Stop(node.Parent);
        await watcher.ExpectTerminatedAsync(node.Parent, Timeout);
    }

    private Task AwaitStatus(WatermarkNode node, Action<WatermarkStatus> assert) =>
        AwaitAssertAsync(async () => assert(await node.Status()), Timeout, TimeSpan.FromMilliseconds(50));

    /// <summary>The watermark actor under a parent that forwards what the child tells it to <c>Events</c>,
    /// and everything else to the child, keeping the sender.</summary>
    private sealed record WatermarkNode(IActorRef Parent, Akka.TestKit.TestProbe Events, Akka.TestKit.TestProbe Receiver)
    {
        public void Tell(object message) => Parent.Tell(message, Receiver.Ref);

        public void Commit(long epoch, long sequence, params string[] blobsToCome) =>
            Tell(new Committed(epoch, sequence, blobsToCome));

        public void BlobDurable(long epoch, long sequence, string fileId) => Tell(new Watermark.BlobDurable(epoch, sequence, fileId));

        public async Task<ResumeFrom> BeginEpoch(long epoch)
        {
            Parent.Tell(new Watermark.BeginEpoch(epoch), Receiver.Ref);
            return await Receiver.ExpectMsgAsync<ResumeFrom>(Timeout);
        }

        public Task<WatermarkStatus> Status() => Parent.Ask<WatermarkStatus>(GetStatus.Instance, Timeout);
    }

    private sealed class ParentForwarder : ReceiveActor
    {
        public ParentForwarder(IActorRef events, Akka.Actor.Props childProps)
        {
            var child = Context.ActorOf(childProps, "child");
            // The persisted cursor reaches the hub for its restored-node check; these specs read it from the status.
            Receive<CursorPersisted>(_ => { });
            ReceiveAny(message =>
            {
                if (Sender.Equals(child)) events.Forward(message);
                else child.Forward(message);
            });
        }
    }

    private sealed record FakeStoreStarted(IActorRef Store, IActorRef Watermark);

    /// <summary>A cursor store that only reports what it is told, so the test decides when writes finish.</summary>
    private sealed class FakeCursorStore : ReceiveActor
    {
        private readonly IActorRef _probe;

        public FakeCursorStore(IActorRef probe)
        {
            _probe = probe;
            ReceiveAny(message => _probe.Forward(message));
        }

        protected override void PreStart() => _probe.Tell(new FakeStoreStarted(Self, Context.Parent));
    }
}
