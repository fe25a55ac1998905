using System.Diagnostics;
using ClusterNode.Actors.Telemetry;
using Xunit;

namespace ClusterNode.Tests.Telemetry;

/// <summary>The lag in seconds: how long the oldest write of the peer not yet persisted here has been known to exist.</summary>
public sealed class LagClockSpec
{
    private static readonly long Second = Stopwatch.Frequency;
    private const long T0 = 1_000_000;

    private static double Behind(LagClock clock, long now) => LagClock.SecondsBehind(clock.OldestPendingSince, now);

    [Fact]
    public void A_leg_that_has_persisted_all_it_knows_of_is_0_seconds_behind()
    {
        var clock = new LagClock(Second / 10);
        Assert.Equal(0, Behind(clock, T0));
        clock.PeerAt(10, T0);
        clock.Persisted(10);
        Assert.Equal(0, Behind(clock, T0 + 60 * Second));
    }

    [Fact]
    public void The_lag_counts_from_when_the_oldest_unpersisted_sequence_was_first_known()
    {
        var clock = new LagClock(Second / 10);
        clock.PeerAt(10, T0);
        clock.PeerAt(20, T0 + 2 * Second);
        Assert.Equal(5, Behind(clock, T0 + 5 * Second));
        clock.Persisted(10); // up to 10: what remains was first known at 2 s
        Assert.Equal(3, Behind(clock, T0 + 5 * Second));
        clock.Persisted(20);
        Assert.Equal(0, Behind(clock, T0 + 5 * Second));
    }

    [Fact]
    public void A_follower_steadily_behind_under_constant_writes_stays_a_constant_time_behind()
    {
        var clock = new LagClock(Second / 10);
        // The peer's log grows by 10 a second; each second this node persists what the peer had 2 s earlier, so the
        // oldest write not persisted here is the first one after that, known for 1 s (at this sampling).
        for (var s = 0; s <= 100; s++)
        {
            clock.PeerAt(10 * (s + 1), T0 + s * Second);
            if (s < 2) continue;
            clock.Persisted(10 * (s - 1));
            Assert.Equal(1, Behind(clock, T0 + s * Second));
        }
    }

    [Fact]
    public void Samples_closer_than_the_interval_or_beyond_the_ring_overstate_the_lag_never_understate_it()
    {
        var clock = new LagClock(Second);
        clock.PeerAt(10, T0);
        clock.PeerAt(20, T0 + Second / 2); // merged into the sample of 10, first known at T0
        clock.Persisted(10);
        Assert.Equal(3, Behind(clock, T0 + 3 * Second));
        // Far more samples than the ring holds: the last one takes in the rest, with its earlier time.
        for (var i = 0; i < 1000; i++) clock.PeerAt(100 + i, T0 + (i + 1) * Second);
        clock.Persisted(1050); // the true oldest pending, 1051, was first known at 952 s
        Assert.True(Behind(clock, T0 + 2000 * Second) >= 2000 - 952);
        clock.Persisted(1099);
        Assert.Equal(0, Behind(clock, T0 + 2000 * Second));
        clock.PeerAt(1200, T0 + 2000 * Second);
        Assert.Equal(1, Behind(clock, T0 + 2001 * Second));
    }
}
