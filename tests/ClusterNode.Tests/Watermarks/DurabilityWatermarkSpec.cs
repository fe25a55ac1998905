using ClusterNode.Actors.Watermarks;
using Xunit;

namespace ClusterNode.Tests.Watermarks;

/// <summary>
/// The watermark rules as readable scenarios (etcd-raft style): each row is a script of steps on a fresh
/// <see cref="DurabilityWatermark"/> and the state it must end in.
///
/// <para>Script steps, separated by ';':
/// <c>from N</c> (first step only: start from persisted cursor N),
/// <c>commit N</c>, <c>commit N a,b</c> (transaction N with blobs a and b still to come),
/// <c>commit N..M</c> (transactions N to M without blobs),
/// <c>refuse N [a,b]</c> (a commit that must be refused),
/// <c>advance N</c> (a sequence update without data),
/// <c>durable N a</c>, <c>failed N a</c> (a blob outcome), <c>restart</c> (the next subscription's watermark).</para>
/// </summary>
public sealed class DurabilityWatermarkSpec
{
    public static TheoryData<string, string, long, long, int, int> Scenarios => new()
    {
        // name, script, committed, durable, outstanding blobs, failed blobs
        { "a fresh watermark starts at 0", "", 0, 0, 0, 0 },
        { "no blobs: durable follows committed", "commit 1; commit 2; commit 3", 3, 3, 0, 0 },
        { "sequences may jump (skipped entries)", "commit 5; commit 9; commit 30", 30, 30, 0, 0 },
        { "a blob in flight for 120 holds durable at 119 while commits go on to 500",
            "commit 1..119; commit 120 a; commit 121..500", 500, 119, 1, 0 },
        { "precise: not stalled at the first blob ever seen",
            "commit 10 x; commit 11..119; durable 10 x; commit 120 a; commit 121..500", 500, 119, 1, 0 },
        { "a blob right after the start holds durable at the start",
            "from 40; commit 41 a; commit 42..60", 60, 40, 1, 0 },
        { "two blobs of one transaction, one durable: still held",
            "commit 1..9; commit 10 a,b; commit 11..20; durable 10 a", 20, 9, 1, 0 },
        { "two blobs of one transaction, both durable: durable == committed",
            "commit 1..9; commit 10 a,b; commit 11..20; durable 10 b; durable 10 a", 20, 20, 0, 0 },
        { "blobs of several transactions: held below the lowest that still waits",
            "commit 10 a; commit 20 b; commit 30 c; durable 20 b", 30, 9, 2, 0 },
        { "the lowest waiting one becomes durable: moves to below the next",
            "commit 10 a; commit 20 b; commit 30 c; durable 20 b; durable 10 a", 30, 29, 1, 0 },
        { "every blob durable, in any order: durable == committed",
            "commit 10 a; commit 20 b; commit 30 c; durable 30 c; durable 10 a; durable 20 b", 30, 30, 0, 0 },
        { "a failed blob holds it",
            "commit 1..9; commit 10 a; commit 11..20; failed 10 a", 20, 9, 1, 1 },
        { "a failed blob holds it however much follows",
            "commit 1..9; commit 10 a; failed 10 a; commit 11..400; advance 900", 900, 9, 1, 1 },
        { "a failed blob saved again releases it",
            "commit 1..9; commit 10 a; commit 11..20; failed 10 a; durable 10 a", 20, 20, 0, 0 },
        { "a failure report of a blob that is not outstanding is not counted", "commit 10; failed 10 a", 10, 10, 0, 0 },
        { "a durable report of a blob that is not outstanding changes nothing", "commit 10 a; durable 10 z", 10, 9, 1, 0 },
        { "advance (no data) moves committed and durable when nothing waits", "commit 5; advance 40", 40, 40, 0, 0 },
        { "advance moves durable only as far as outstanding blobs allow", "commit 5 a; advance 40", 40, 4, 1, 0 },
        { "advance past a blob, then the blob durable: durable reaches the advance",
            "commit 5 a; advance 40; durable 5 a", 40, 40, 0, 0 },
        { "restart after progress starts from durable with nothing outstanding",
            "commit 1..9; commit 10 a; commit 11..20; failed 10 a; restart", 9, 9, 0, 0 },
        { "restart when everything is durable starts from committed", "commit 1..20; restart", 20, 20, 0, 0 },
        { "restart from a persisted cursor keeps it (never 0)", "from 42; restart", 42, 42, 0, 0 },
        { "restart, re-commit and save: moves on from the start",
            "commit 1..9; commit 10 a; commit 11..20; failed 10 a; restart; commit 10 a; commit 11..20; durable 10 a",
            20, 20, 0, 0 },
        { "restart twice keeps the point", "commit 10 a; restart; restart", 9, 9, 0, 0 },
        { "a commit at or below committed is refused and changes nothing",
            "commit 10; refuse 10 a; refuse 3 b", 10, 10, 0, 0 },
        { "a refused commit below a waiting blob changes nothing",
            "commit 10 a; commit 11..15; refuse 12 b; refuse 15", 15, 9, 1, 0 },
        { "a commit at or below the start is refused", "from 30; refuse 30 a; refuse 1", 30, 30, 0, 0 },
        { "a durable report that arrives before its commit is not lost", "commit 5; durable 6 a; commit 6 a", 6, 6, 0, 0 },
        { "an early durable report of one of two blobs: held by the other",
            "commit 5; durable 6 a; commit 6 a,b", 6, 5, 1, 0 },
        { "an early durable report, then the other blob: durable == committed",
            "commit 5; durable 6 a; commit 6 a,b; durable 6 b", 6, 6, 0, 0 },
        { "an early durable report for a later transaction survives commits in between",
            "commit 5; durable 9 a; commit 6..8; commit 9 a", 9, 9, 0, 0 },
    };

    [Theory]
    [MemberData(nameof(Scenarios))]
    public void Watermark_must_follow_the_scenario(string name, string script, long committed, long durable, int outstanding, int failed)
    {
        var watermark = Run(name, script);
        var actual = (watermark.Committed, watermark.Durable, watermark.OutstandingBlobs, watermark.FailedBlobs);
        Assert.True((committed, durable, outstanding, failed) == actual,
            $"scenario '{name}': expected (committed, durable, outstanding, failed) = {(committed, durable, outstanding, failed)}, got {actual}");
        Assert.Equal(watermark.Committed - watermark.Durable, watermark.BlobGap);
    }

    [Fact]
    public void Watermark_must_never_restart_from_0_after_progress()
    {
        var watermark = Run("progress", "commit 1..9; commit 10 a; commit 11..20");
        for (var i = 0; i < 3; i++)
        {
            watermark = watermark.Restart();
            Assert.Equal(9, watermark.StartedFrom);
            Assert.Equal(9, watermark.Committed);
            Assert.Equal(9, watermark.Durable);
            Assert.Equal(0, watermark.OutstandingBlobs);
            Assert.Equal(0, watermark.FailedBlobs);
        }
    }

    [Fact]
    public void Watermark_must_leave_the_old_watermark_alone_on_restart()
    {
        var old = Run("progress", "commit 10 a; commit 11..20; failed 10 a");
        var next = old.Restart();
        next.Commit(10, new[] { "a" });
        Assert.Equal((20L, 9L, 1, 1), (old.Committed, old.Durable, old.OutstandingBlobs, old.FailedBlobs));
    }

    [Fact]
    public void Watermark_must_refuse_a_commit_at_or_below_committed_and_change_nothing()
    {
        var watermark = Run("setup", "commit 10 a; commit 11..20; failed 10 a");
        var before = Snapshot(watermark);
        foreach (var sequence in new long[] { 20, 19, 10, 1, 0 })
        {
            Assert.False(watermark.Commit(sequence, new[] { "a", "new" }), $"commit {sequence} must be refused");
            Assert.False(watermark.Advance(sequence), $"advance {sequence} must be refused");
            Assert.Equal(before, Snapshot(watermark));
        }
        // The refused commits left no trace: saving the one real blob releases everything.
        watermark.BlobDurable(10, "a");
        Assert.Equal((20L, 20L, 0, 0), (watermark.Committed, watermark.Durable, watermark.OutstandingBlobs, watermark.FailedBlobs));
    }

    [Fact]
    public void Watermark_must_reject_a_negative_start()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new DurabilityWatermark(-1));
    }

    private static (long, long, long, int, int, long) Snapshot(DurabilityWatermark w) =>
        (w.StartedFrom, w.Committed, w.Durable, w.OutstandingBlobs, w.FailedBlobs, w.BlobGap);

    /// <summary>Runs a scenario script; a step that is not accepted as the script says fails the test.</summary>
    private static DurabilityWatermark Run(string name, string script)
    {
        var steps = script.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var watermark = new DurabilityWatermark(0);
        for (var i = 0; i < steps.Length; i++)
        {
            var words = steps[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var where = $"scenario '{name}', step {i + 1} '{steps[i]}'";
            string[] Blobs(int at) => words.Length > at ? words[at].Split(',') : Array.Empty<string>();
            switch (words[0])
            {
                case "from" when i == 0:
                    watermark = new DurabilityWatermark(long.Parse(words[1]));
                    break;
                case "commit" when words[1].Contains(".."):
                    var range = words[1].Split("..");
                    for (var sequence = long.Parse(range[0]); sequence <= long.Parse(range[1]); sequence++)
                        Assert.True(watermark.Commit(sequence, Array.Empty<string>()), $"{where}: commit {sequence} refused");
                    break;
                case "commit":
                    Assert.True(watermark.Commit(long.Parse(words[1]), Blobs(2)), $"{where}: refused");
                    break;
                case "refuse":
                    Assert.False(watermark.Commit(long.Parse(words[1]), Blobs(2)), $"{where}: accepted");
                    break;
                case "advance":
                    Assert.True(watermark.Advance(long.Parse(words[1])), $"{where}: refused");
                    break;
                case "durable":
                    watermark.BlobDurable(long.Parse(words[1]), words[2]);
                    break;
                case "failed":
                    watermark.BlobFailed(long.Parse(words[1]), words[2]);
                    break;
                case "restart":
                    watermark = watermark.Restart();
                    break;
                default:
                    throw new ArgumentException($"{where}: unknown step");
            }
            Assert.True(watermark.Durable <= watermark.Committed, $"{where}: durable {watermark.Durable} > committed {watermark.Committed}");
        }
        return watermark;
    }
}
