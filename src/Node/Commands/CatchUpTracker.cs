namespace ClusterNode.Node.Commands;

/// <summary>
/// A peer's catch-up as successive reads of /status show it (pure: the caller gives the time of each read), for
/// <c>status --watch</c>. The node reports positions, not rates: records left is the peer's lag; the rate is how fast
/// its durable cursor moved over the last reads; time left is the lag over how fast the lag shrinks (the peer may be
/// taking writes meanwhile, so that is slower than the rate). Bytes: the rate at which the peer's frames and chunks
/// arrive, and the bytes left estimated as the records left times the bytes each record made durable lately took (the
/// peer's log does not say how large what it still holds is).
/// </summary>
internal sealed class CatchUpTracker
{
    /// <summary>How far back the rate looks: long enough to smooth one slow read, short enough to follow a change.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);

    private sealed record Sample(DateTimeOffset At, long Lag, long Durable, long ReceivedBytes);

    private readonly Dictionary<string, List<Sample>> _samples = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _peaks = new(StringComparer.Ordinal);

    /// <param name="Left">Records (sequences of the peer's log) not yet durable here.</param>
    /// <param name="Total">The most that was left since this catch-up began (the bar's whole).</param>
    /// <param name="RecordsPerSecond">Records made durable per second lately; null until two reads.</param>
    /// <param name="TimeLeft">At the pace the lag shrinks lately; null while it does not shrink.</param>
    /// <param name="BytesPerSecond">Bytes received from the peer per second lately; null until two reads.</param>
    /// <param name="BytesLeft">An estimate: records left times bytes received per record made durable lately; null until known.</param>
    public sealed record Progress(long Left, long Total, double? RecordsPerSecond, TimeSpan? TimeLeft, double? BytesPerSecond = null, long? BytesLeft = null)
    {
        public bool CatchingUp => Left > 0;
        public double Done => Total == 0 ? 1 : (double)(Total - Left) / Total;
    }

    public Progress Observe(string peer, DateTimeOffset at, long lag, long durable, long receivedBytes = 0)
    {
        if (!_samples.TryGetValue(peer, out var samples)) _samples[peer] = samples = [];
        // A restored or restarted cursor, or a restarted node (its byte count starts again): start over.
        if (samples.Count > 0 && (durable < samples[^1].Durable || receivedBytes < samples[^1].ReceivedBytes)) samples.Clear();
        samples.Add(new Sample(at, lag, durable, receivedBytes));
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
        var bytesRate = (receivedBytes - first.ReceivedBytes) / seconds;
        long? bytesLeft = durable > first.Durable ? (long)(lag * ((double)(receivedBytes - first.ReceivedBytes) / (durable - first.Durable))) : null;
        return new Progress(lag, peak, rate, left, bytesRate, bytesLeft);
    }
}
