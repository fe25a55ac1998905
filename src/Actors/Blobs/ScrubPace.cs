namespace ClusterNode.Actors.Blobs;

/// <summary>
/// Paces the scrub's reads to an average of at most <c>rateBytesPerSecond</c>, pure so that its bound can be checked
/// without timers. Every step's bytes are paid for on an ideal schedule; the next step may run once the schedule has
/// caught up with the clock. A timer that fires late is made up by the next steps running sooner, but by no more than
/// one step's worth, so a pause never turns into a burst: over any interval of length d the bytes read stay within
/// <c>rate * d + 2 * stepBytes</c> (the step allowance and the step in progress).
/// </summary>
internal sealed class ScrubPace(long rateBytesPerSecond, int stepBytes)
{
    private readonly TimeSpan _oneStep = TimeOf(stepBytes, rateBytesPerSecond);
    private TimeSpan _paidUntil = TimeSpan.MinValue;

    /// <summary>
    /// A step read <paramref name="bytes"/>, ending at <paramref name="now"/> (any monotonic clock): how long to wait
    /// before the next step.
    /// </summary>
    public TimeSpan Spent(long bytes, TimeSpan now)
    {
        var from = _paidUntil > now - _oneStep ? _paidUntil : now - _oneStep;
        _paidUntil = from + TimeOf(bytes, rateBytesPerSecond);
        return _paidUntil > now ? _paidUntil - now : TimeSpan.Zero;
    }

    private static TimeSpan TimeOf(long bytes, long rateBytesPerSecond) =>
        TimeSpan.FromTicks((long)Math.Ceiling((double)bytes * TimeSpan.TicksPerSecond / rateBytesPerSecond));
}
