using System.Diagnostics;

namespace ClusterNode.Actors.Telemetry;

/// <summary>
/// Decides when one leg (the receiver of a peer's log) is stalled, and says so once: its durable watermark has not moved
/// for <c>stalledAfter</c> while there is work for it (records committed but not durable, the peer's log further on,
/// blob saves failing, the stream given up). Bytes still arriving with nothing failing is a slow leg (a large blob, a
/// copy), not a stalled one. Pure: the receiver feeds it events and asks <see cref="Check"/> every second, logging the
/// line it returns; a stall gives one line, and another only when its reason changes or the leg resumes.
/// </summary>
public sealed class LegStall(TimeSpan stalledAfter)
{
    private readonly long _stalledAfterTicks = (long)(stalledAfter.TotalSeconds * Stopwatch.Frequency);
    private long _committed;
    private long _durable;
    private long _peerLast;
    private long _progressAt = Stopwatch.GetTimestamp();
    private long _receivedAt;
    private int _failures;
    private string _lastFailure = "";
    private int _giveUps;
    private LegProblem _lastProblem;
    private string _lastGiveUp = "";
    private string? _reported; // the kind of stall last logged; null while none is

    public TimeSpan StalledAfter => stalledAfter;

    /// <summary>The watermark as the receiver last heard it; a durable that moves up is progress.</summary>
    public void Watermark(long committed, long durable, long nowTicks)
    {
        _committed = committed;
        if (durable > _durable) Progressed(nowTicks);
        _durable = durable;
    }

    public void PeerLog(long lastSequence) => _peerLast = Math.Max(_peerLast, lastSequence);

    public void Received(long nowTicks) => _receivedAt = nowTicks;

    public void BlobSaveFailed(string reason)
    {
        _failures++;
        _lastFailure = reason;
    }

    public void GaveUp(LegProblem problem, string reason)
    {
        _giveUps++;
        _lastProblem = problem;
        _lastGiveUp = reason;
    }

    /// <summary>The line to log now, if any: a new stall or a changed reason (a warning), or the end of one (not).</summary>
    public (string Line, bool Warning)? Check(long nowTicks)
    {
        var stalled = Stalled(nowTicks);
        if (stalled is null)
        {
            if (_reported is null) return null;
            _reported = null;
            return ($"moving again: durable at {_durable}, committed {_committed}, the peer's log at {_peerLast}", false);
        }
        var (kind, reason) = stalled.Value;
        if (kind == _reported) return null;
        _reported = kind;
        var since = (nowTicks - _progressAt) / (double)Stopwatch.Frequency;
        return ($"stalled: {reason}; durable at {_durable} (unmoved for {since:F1}s), committed {_committed}, the peer's log at {_peerLast}", true);
    }

    private (string Kind, string Reason)? Stalled(long nowTicks)
    {
        var work = _committed > _durable || _peerLast > _durable || _failures > 0 || _giveUps > 0;
        if (!work || nowTicks - _progressAt < _stalledAfterTicks) return null;
        if (_failures > 0) return ("blob-save-failed", $"blob save failed {_failures} time(s) (last: {_lastFailure})");
        if (_giveUps > 0) return (_lastProblem.Tag(), $"re-subscribed {_giveUps} time(s) (last: {_lastGiveUp})");
        // Bytes arriving and nothing failing: slow, not stalled.
        if (_receivedAt != 0 && nowTicks - _receivedAt < _stalledAfterTicks) return null;
        var silentFor = (nowTicks - Math.Max(_receivedAt, _progressAt)) / (double)Stopwatch.Frequency;
        return _peerLast > _committed
            ? ("silent", $"nothing received for {silentFor:F1}s though the peer's log is {_peerLast - _committed} sequence(s) ahead")
            : ("waiting-for-blobs", $"records up to {_committed} wait for their blobs and nothing was received for {silentFor:F1}s");
    }

    private void Progressed(long nowTicks)
    {
        _progressAt = nowTicks;
        _failures = 0;
        _giveUps = 0;
    }
}
