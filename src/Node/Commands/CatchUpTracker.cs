namespace ClusterNode.Node.Commands;

/// <summary>
/// A peer's catch-up as successive reads of /status show it (pure: the caller gives the time of each read), for
/// <c>status --watch</c>. The node reports positions, not rates: records left is the peer's lag; the rate is how fast
/// its durable cursor moved over the last reads; time left is the lag over how fast the lag shrinks (the peer may be
/// taking writes meanwhile, so that is slower than the rate).
/// </summary>
internal sealed class CatchUpTracker
{
    /// <summary>How far back the rate looks: long enough to smooth one slow read, short enough to follow a change.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private sealed record Sample(DateTimeOffset At, long Lag, long Durable);

    private readonly Dictionary<string, List<Sample>> _samples = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _peaks = new(StringComparer.Ordinal);

    /// <param name="Left">Records (sequences of the peer's log) not yet durable here.</param>
    /// <param name="Total">The most that was left since this catch-up began (the bar's whole).</param>
    /// <param name="RecordsPerSecond">Records made durable per second lately; null until two reads.</param>
    /// <param name="TimeLeft">At the pace the lag shrinks lately; null while it does not shrink.</param>
    public sealed record Progress(long Left, long Total, double? RecordsPerSecond, TimeSpan? TimeLeft)
    {
        public bool CatchingUp => Left > 0;
        public double Done => Total == 0 ? 1 : (double)(Total - Left) / Total;
    }

    public Progress Observe(string peer, DateTimeOffset at, long lag, long durable)
    {
        if (!_samples.TryGetValue(peer, out var samples)) _samples[peer] = samples = [];
        if (samples.Count > 0 && durable < samples[^1].Durable) samples.Clear(); // a restored or restarted cursor: start over
        samples.Add(new Sample(at, lag, durable));
        while (samples.Count > 2 && at - samples[1].At >= Window) samples.RemoveAt(0);

        // A catch-up ends when nothing is left; the next one's bar starts from its own peak.
        var peak = lag == 0 ? 0 : Math.Max(lag, _peaks.GetValueOrDefault(peer));
        _peaks[peer] = peak;

        var first = samples[0];
        var seconds = (at - first.At).TotalSeconds;
        if (samples.Count < 2 || seconds <= 0) return new Progress(lag, peak, null, null);
        var rate = (durable - first.Durable) / seconds;
        var closing = (first.Lag - lag) / seconds;
        TimeSpan? left = lag == 0 ? TimeSpan.Zero : closing > 0 ? TimeSpan.FromSeconds(Math.Ceiling(Math.Min(lag / closing, TimeSpan.FromDays(365).TotalSeconds))) : null;
        return new Progress(lag, peak, rate, left);
    }
}
