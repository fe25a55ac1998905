using ClusterNode.Node.Commands;
using Xunit;

namespace ClusterNode.Tests.Node;

/// <summary>
/// What `status --watch` tells an operator about a peer catching up, from successive reads of /status (given times,
/// no clock): records left, how much of the catch-up is done, the rate, and the time left.
/// </summary>
public sealed class CatchUpTrackerSpec
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 3, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_peer_catching_up_shows_records_left_rate_and_time_left()
    {
        var tracker = new CatchUpTracker();
        var first = tracker.Observe("a", T0, lag: 10_000, durable: 0);
        Assert.True(first.CatchingUp);
        Assert.Equal(10_000, first.Left);
        Assert.Null(first.RecordsPerSecond); // one read says nothing about speed

        var second = tracker.Observe("a", T0.AddSeconds(2), lag: 6_000, durable: 4_000);
        Assert.Equal(0.4, second.Done, 3);
        Assert.Equal(2_000, second.RecordsPerSecond!.Value, 3);
        Assert.Equal(TimeSpan.FromSeconds(3), second.TimeLeft);

        var done = tracker.Observe("a", T0.AddSeconds(5), lag: 0, durable: 10_000);
        Assert.False(done.CatchingUp);
        Assert.Equal(1, done.Done);
    }

    [Fact]
    public void Bytes_left_are_the_records_left_at_the_bytes_per_record_lately_and_a_restarted_node_starts_the_count_again()
    {
        var tracker = new CatchUpTracker();
        Assert.Null(tracker.Observe("a", T0, lag: 1_000, durable: 0, receivedBytes: 0).BytesLeft);
        // 200 records made durable in 2 s, 10 MB received: 50 KB a record, 5 MB/s; 800 records left.
        var second = tracker.Observe("a", T0.AddSeconds(2), lag: 800, durable: 200, receivedBytes: 10_000_000);
        Assert.Equal(5_000_000, second.BytesPerSecond!.Value, 3);
        Assert.Equal(40_000_000, second.BytesLeft);

        // The node restarted: its count of bytes received began again; no rate from across the restart.
        var restarted = tracker.Observe("a", T0.AddSeconds(3), lag: 700, durable: 300, receivedBytes: 1_000);
        Assert.Null(restarted.BytesPerSecond);
        Assert.Null(restarted.BytesLeft);
    }

    [Fact]
    public void Time_left_follows_how_fast_the_lag_shrinks_while_the_peer_takes_writes_and_is_unknown_when_it_does_not()
    {
        var tracker = new CatchUpTracker();
        tracker.Observe("a", T0, lag: 1_000, durable: 0);
        // 1000 records/s applied while the peer took 500/s more: the lag shrinks by 500/s.
        var gaining = tracker.Observe("a", T0.AddSeconds(1), lag: 500, durable: 1_000);
        Assert.Equal(1_000, gaining.RecordsPerSecond!.Value, 3);
        Assert.Equal(TimeSpan.FromSeconds(1), gaining.TimeLeft);

        var other = new CatchUpTracker();
        other.Observe("b", T0, lag: 1_000, durable: 0);
        var losing = other.Observe("b", T0.AddSeconds(1), lag: 1_200, durable: 100);
        Assert.Null(losing.TimeLeft);
        Assert.Equal(1_200, losing.Total); // the bar's whole grows with the lag
    }

    [Fact]
    public void The_rate_looks_back_over_the_last_ten_seconds_only()
    {
        var tracker = new CatchUpTracker();
        tracker.Observe("a", T0, lag: 100_000, durable: 0);
        tracker.Observe("a", T0.AddSeconds(10), lag: 99_000, durable: 1_000);   // slow at first: 100/s
        tracker.Observe("a", T0.AddSeconds(20), lag: 49_000, durable: 51_000);  // then 5000/s
        var now = tracker.Observe("a", T0.AddSeconds(21), lag: 44_000, durable: 56_000);
        Assert.InRange(now.RecordsPerSecond!.Value, 4_999, 5_001);
    }
}
