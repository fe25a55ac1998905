using System.Diagnostics;
using ClusterNode.Actors.Telemetry;
using Xunit;

namespace ClusterNode.Tests.Telemetry;

/// <summary>When a leg counts as stalled, and that it says so once per stall: the rules of <see cref="LegStall"/>, without actors.</summary>
public sealed class LegStallRulesSpec
{
    private static readonly long Second = Stopwatch.Frequency;
    private readonly long _t0 = Stopwatch.GetTimestamp();
    private readonly LegStall _stall = new(TimeSpan.FromSeconds(3));

    private (string Line, bool Warning)? At(double seconds) => _stall.Check(_t0 + (long)(seconds * Second));

    [Fact]
    public void An_idle_caught_up_leg_is_never_stalled()
    {
        _stall.Watermark(100, 100, _t0);
        _stall.PeerLog(100);
        Assert.Null(At(60));
    }

    [Fact]
    public void Failing_blob_saves_give_one_warning_and_a_line_when_the_leg_moves_again()
    {
        _stall.Watermark(10, 5, _t0);
        _stall.PeerLog(20);
        _stall.BlobSaveFailed("disk full");
        _stall.GaveUp(LegProblem.BlobSaveFailed, "blob x failed: disk full");
        Assert.Null(At(2));
        var line = At(3.5);
        Assert.NotNull(line);
        Assert.True(line.Value.Warning);
        Assert.StartsWith("stalled: blob save failed 1 time(s) (last: disk full); durable at 5", line.Value.Line);
        _stall.BlobSaveFailed("disk full");
        Assert.Null(At(4.5)); // the same stall: said once
        Assert.Null(At(10));
        _stall.Watermark(20, 20, _t0 + 11 * Second);
        var resumed = At(11);
        Assert.NotNull(resumed);
        Assert.False(resumed.Value.Warning);
        Assert.StartsWith("moving again: durable at 20", resumed.Value.Line);
        Assert.Null(At(12));
    }

    [Fact]
    public void A_new_reason_gives_a_new_line()
    {
        _stall.Watermark(10, 10, _t0);
        _stall.PeerLog(20);
        _stall.GaveUp(LegProblem.SubscriptionRefused, "the peer refused the subscription: not a member");
        Assert.Contains("re-subscribed 1 time(s) (last: the peer refused", At(3.5)!.Value.Line);
        _stall.BlobSaveFailed("disk full");
        Assert.Contains("blob save failed", At(4.5)!.Value.Line);
    }

    [Fact]
    public void Bytes_still_arriving_with_nothing_failing_is_slow_not_stalled_and_silence_is_stalled()
    {
        _stall.Watermark(10, 0, _t0); // a large blob of record 1 on its way
        for (var s = 0; s < 10; s++)
        {
            _stall.Received(_t0 + s * Second);
            Assert.Null(At(s + 0.5));
        }
        var line = At(14);
        Assert.NotNull(line);
        Assert.Contains("records up to 10 wait for their blobs and nothing was received for", line.Value.Line);
    }

    [Fact]
    public void A_peer_further_on_that_sends_nothing_is_a_stall()
    {
        _stall.Watermark(10, 10, _t0);
        _stall.PeerLog(50);
        var line = At(4)!.Value.Line;
        Assert.Contains("nothing received for", line);
        Assert.Contains("the peer's log is 40 sequence(s) ahead", line);
    }
}
