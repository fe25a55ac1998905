using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Replication;

/// <summary>
/// Two real nodes (ActorSystems over Akka.Remote on loopback, each with its own LMDB environment and blob
/// directory) replicate records with blobs. Every check of the follower's bytes is made against the
/// deterministic generator, with the source node stopped, so nothing can be fetched again to hide a loss.
/// </summary>
public sealed class TwoNodeReplicationSpec : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private readonly ITestOutputHelper _output;

    public TwoNodeReplicationSpec(ITestOutputHelper output) : base(output: output)
    {
        _output = output;
        _nodes = new NodeSet("two-node", output);
    }

    private const string Table = "photos";
    private const string Field = "image";
    private readonly NodeSet _nodes;

    [Fact]
    public async Task Follower_must_converge_byte_for_byte_through_a_failed_blob_save_and_resume_from_its_cursor_after_restart()
    {
        const int records = 80;
        const int blobBytes = 50 * 1024;
        var a = Start("a");
        // B: ten saves succeed, then one fails (transient), as in a disk hiccup mid-stream.
        var b = Start("b", "cluster-node.fault-injection.blob-save { skip = 10, fail-count = 1 }");

        long lastOfA = 0;
        for (var i = 0; i < records; i++)
            lastOfA = a.WriteRecordWithBlob(Table, TestData.Id(i), $$"""{"n":{{i}}}""", Field, TestData.Blob(i, blobBytes));
        b.ConnectTo(a);
        a.ConnectTo(b);

        await AwaitAssertAsync(async () =>
        {
            var peer = await b.PeerStatusAsync(a);
            Assert.NotNull(peer);
            Assert.Equal(lastOfA, peer.PersistedCursor);
            Assert.Equal(0, peer.OutstandingBlobs);
        }, TimeSpan.FromSeconds(90), TimeSpan.FromMilliseconds(200));

        var converged = (await b.PeerStatusAsync(a))!;
        Assert.Contains("injected blob-save failure", converged.LastProblem); // the repair path really ran
        _output.WriteLine($"converged: {converged}");

        // Restart B on the same directories.
        await Stop(b);
        b = Start("b");
        b.ConnectTo(a);
        var recovered = await WaitForPeer(b, a);
        Assert.Equal(lastOfA, recovered.PersistedCursor); // recovered from the journal, not 0
        // The stream is live again (a heartbeat told B how far A's log goes) and nothing was sent twice.
        await AwaitAssertAsync(async () =>
        {
            var peer = (await b.PeerStatusAsync(a))!;
            Assert.Equal(lastOfA, peer.PeerLastSequence);
            Assert.Equal(lastOfA, peer.Committed);
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(200));
        var afterRestart = (await b.PeerStatusAsync(a))!;
        Assert.Equal(0, afterRestart.RecordsReceived);
        Assert.Equal(0, b.Store.ReplicatedApplies);
        Assert.Equal(lastOfA, afterRestart.PersistedCursor);

        // The source goes away; B alone must hold every byte.
        await Stop(a);
        for (var i = 0; i < records; i++)
        {
            var bytes = b.ReadBlob(Table, TestData.Id(i), Field);
            Assert.True(bytes is not null, $"B lacks the blob of {TestData.Id(i)}");
            Assert.True(TestData.Blob(i, blobBytes).AsSpan().SequenceEqual(bytes), $"B's blob of {TestData.Id(i)} differs");
            Assert.Equal($$"""{"n":{{i}}}""", global::System.Text.Encoding.UTF8.GetString(b.Store.Get(Table, TestData.Id(i))!.Data));
        }
    }

    [Fact]
    public async Task Follower_must_converge_without_deadlock_with_a_small_window_slow_blob_saves_and_a_large_backlog()
    {
        const int records = 500;
        const int blobBytes = 40 * 1024;
        const long windowBytes = 256 * 1024;
        var a = Start("a", $"cluster-node.replication.window = {windowBytes}");
        var b = Start("b", $$"""
            cluster-node.replication.window = {{windowBytes}}
            cluster-node.fault-injection.blob-save.chunk-delay = 5ms
            """);

        long lastOfA = 0;
        for (var i = 0; i < records; i++)
            lastOfA = a.WriteRecordWithBlob(Table, TestData.Id(i), $$"""{"n":{{i}}}""", Field, TestData.Blob(i, blobBytes));
        b.ConnectTo(a);

        await AwaitAssertAsync(async () =>
        {
            var peer = await b.PeerStatusAsync(a);
            Assert.NotNull(peer);
            Assert.Equal(lastOfA, peer.PersistedCursor);
        }, TimeSpan.FromSeconds(180), TimeSpan.FromMilliseconds(250));

        var follower = (await b.PeerStatusAsync(a))!;
        var sender = (await a.StatusAsync()).Followers.Single(f => f.Follower == b.Store.NodeId);
        _output.WriteLine($"follower: {follower}");
        _output.WriteLine($"sender: {sender}");
        Assert.InRange(follower.MaxUncreditedBytes, 1, windowBytes);
        Assert.InRange(sender.MaxInFlightBytes, 1, windowBytes);

        await Stop(a);
        for (var i = 0; i < records; i++)
            Assert.True(TestData.Blob(i, blobBytes).AsSpan().SequenceEqual(b.ReadBlob(Table, TestData.Id(i), Field)), $"B's blob of {TestData.Id(i)} differs or is missing");
    }

    [Fact]
    public async Task A_follower_behind_the_peers_log_retention_must_copy_its_records_resume_the_copy_after_a_restart_and_then_stream()
    {
        const int records = 60;
        const int blobBytes = 20 * 1024;
        const string smallWindow = "cluster-node.replication.window = 128 KiB";
        var a = Start("a", "cluster-node.audit-log.retention = 20");
        long lastOfA = 0;
        for (var i = 0; i < records; i++)
            lastOfA = a.WriteRecordWithBlob(Table, TestData.Id(i), $$"""{"n":{{i}}}""", Field, TestData.Blob(i, blobBytes));
        Assert.True(a.Store.FirstRetainedSequence > 1, "A's log must no longer reach back to sequence 1");

        // B joins empty with slow blob saves, and is stopped once part of the copy is durable and persisted.
        var b = Start("b", smallWindow + "\ncluster-node.fault-injection.blob-save.chunk-delay = 25ms");
        b.ConnectTo(a);
        await AwaitAssertAsync(async () =>
        {
            var peer = await b.PeerStatusAsync(a);
            Assert.NotNull(peer);
            Assert.Equal("copy", peer.Mode);
            Assert.NotNull(peer.CopyPersistedAfter);
        }, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(50));
        await Stop(b);

        b = Start("b", smallWindow);
        b.ConnectTo(a);
        await AwaitAssertAsync(async () =>
        {
            var peer = await b.PeerStatusAsync(a);
            Assert.NotNull(peer);
            Assert.Equal(lastOfA, peer.PersistedCursor);
            Assert.Equal("streaming", peer.Mode);
        }, TimeSpan.FromSeconds(90), TimeSpan.FromMilliseconds(200));
        var resumed = (await b.PeerStatusAsync(a))!;
        _output.WriteLine($"after restart: {resumed}");
        Assert.True(resumed.RecordsReceived < records, $"the copy started over ({resumed.RecordsReceived} records received again) instead of resuming");

        // After the copy, new writes stream from A's log as usual.
        for (var i = records; i < records + 5; i++)
            lastOfA = a.WriteRecordWithBlob(Table, TestData.Id(i), $$"""{"n":{{i}}}""", Field, TestData.Blob(i, blobBytes));
        await AwaitAssertAsync(async () => Assert.Equal(lastOfA, (await b.PeerStatusAsync(a))!.PersistedCursor),
            TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200));

        await Stop(a);
        for (var i = 0; i < records + 5; i++)
            Assert.True(TestData.Blob(i, blobBytes).AsSpan().SequenceEqual(b.ReadBlob(Table, TestData.Id(i), Field)), $"B's blob of {TestData.Id(i)} differs or is missing");
    }

    [Fact]
    public async Task A_follower_that_falls_behind_a_short_log_retention_while_streaming_must_copy_and_lose_nothing()
    {
        const int records = 100;
        const int blobBytes = 16 * 1024;
        var a = Start("a", "cluster-node.audit-log.retention = 30");
        // B subscribes while A's log is still short, then falls behind: small window, slow blob saves.
        var b = Start("b", "cluster-node.replication.window = 128 KiB\ncluster-node.fault-injection.blob-save.chunk-delay = 10ms");
        b.ConnectTo(a);
        await AwaitAssertAsync(async () => Assert.NotNull(await b.PeerStatusAsync(a)), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));

        long lastOfA = 0;
        for (var i = 0; i < records; i++)
            lastOfA = a.WriteRecordWithBlob(Table, TestData.Id(i), $$"""{"n":{{i}}}""", Field, TestData.Blob(i, blobBytes));
        Assert.True(a.Store.FirstRetainedSequence > 60, "A's log must have been trimmed well past where B was");

        await AwaitAssertAsync(async () => Assert.Equal(lastOfA, (await b.PeerStatusAsync(a))!.PersistedCursor),
            TimeSpan.FromSeconds(120), TimeSpan.FromMilliseconds(250));
        await Stop(a);
        for (var i = 0; i < records; i++)
            Assert.True(TestData.Blob(i, blobBytes).AsSpan().SequenceEqual(b.ReadBlob(Table, TestData.Id(i), Field)), $"B's blob of {TestData.Id(i)} differs or is missing");
    }

    private ReplicationNode Start(string name, string hocon = "") => _nodes.Start(name, hocon);

    private Task Stop(ReplicationNode node) => _nodes.Stop(node);

    private async Task<Actors.Replication.Receiver.PeerStatus> WaitForPeer(ReplicationNode follower, ReplicationNode peer)
    {
        Actors.Replication.Receiver.PeerStatus? status = null;
        await AwaitAssertAsync(async () =>
        {
            status = await follower.PeerStatusAsync(peer);
            Assert.NotNull(status);
        }, TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
        return status!;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await _nodes.DisposeAsync();
}
