using Akka.Event;
using Akka.TestKit;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Replication;

/// <summary>
/// A stalled leg says so in one warning, naming the peer and the reason, within 5 s; a healthy one says nothing of the
/// kind. Two real nodes over Akka.Remote; the follower's log read from its event stream.
/// </summary>
public sealed class LegStallSpec : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private const string Table = "photos";
    private const string Field = "image";
    private readonly NodeSet _nodes;

    public LegStallSpec(ITestOutputHelper output) : base(output: output) => _nodes = new NodeSet("leg-stall", output);

    [Fact]
    public async Task A_leg_whose_blob_saves_keep_failing_logs_one_line_naming_the_peer_and_the_reason_within_5_s()
    {
        var a = _nodes.Start("a");
        var b = _nodes.Start("b", "cluster-node.fault-injection.blob-save { skip = 0, fail-count = 1000000 }");
        var log = Listen(b);
        for (var i = 0; i < 10; i++) a.WriteRecordWithBlob(Table, TestData.Id(i), $$"""{"n":{{i}}}""", Field, TestData.Blob(i, 20_000));
        b.ConnectTo(a);

        var failures = new List<LogEvent>();
        var stalled = await log.FishForMessageAsync<Warning>(w =>
        {
            if (Text(w).Contains("not saved")) failures.Add(w);
            return Text(w).Contains(" stalled: ");
        }, TimeSpan.FromSeconds(30));

        Assert.StartsWith($"leg from {a.Store.NodeId} stalled: blob save failed", Text(stalled));
        Assert.Contains("injected blob-save failure", Text(stalled));
        Assert.Matches(@"durable at \d+ \(unmoved for [\d.]+s\), committed \d+, the peer's log at \d+", Text(stalled));
        Assert.NotEmpty(failures);
        Assert.True(stalled.Timestamp - failures[0].Timestamp <= TimeSpan.FromSeconds(5),
            $"the line came {(stalled.Timestamp - failures[0].Timestamp).TotalSeconds:F1}s after the first failure");
        // One line per stall: the saves keep failing (a re-subscription each time), and no second line comes.
        var after = await log.ReceiveWhileAsync(TimeSpan.FromSeconds(4), m => (Warning)m).ToListAsync();
        Assert.Contains(after, w => Text(w).Contains("not saved"));
        Assert.DoesNotContain(after, w => Text(w).Contains(" stalled: "));
    }

    [Fact]
    public async Task A_healthy_catch_up_logs_no_stalled_line()
    {
        var a = _nodes.Start("a");
        var b = _nodes.Start("b");
        var log = Listen(b);
        long lastOfA = 0;
        for (var i = 0; i < 80; i++) lastOfA = a.WriteRecordWithBlob(Table, TestData.Id(i), $$"""{"n":{{i}}}""", Field, TestData.Blob(i, 50_000));
        b.ConnectTo(a);

        await AwaitAssertAsync(async () => Assert.Equal(lastOfA, (await b.PeerStatusAsync(a))?.PersistedCursor), TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(200));
        // Past the stall threshold after convergence too: an idle, caught-up leg has no work and is not stalled.
        var warnings = await log.ReceiveWhileAsync(TimeSpan.FromSeconds(4), m => (Warning)m).ToListAsync();
        Assert.DoesNotContain(warnings, w => Text(w).Contains(" stalled: "));
    }

    private TestProbe Listen(ReplicationNode node)
    {
        var probe = CreateTestProbe();
        node.System.EventStream.Subscribe(probe.Ref, typeof(Warning));
        return probe;
    }

    private static string Text(LogEvent e) => e.Message.ToString() ?? "";

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await _nodes.DisposeAsync();
}
