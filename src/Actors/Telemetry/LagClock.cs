namespace ClusterNode.Actors.Telemetry;

/// <summary>
/// How long this node has been behind one peer, in time rather than sequences: when the peer was first known to have
/// the oldest sequence not yet persisted here. Clock-independent (only this node's monotonic clock is read), and with
/// no allocation: a fixed ring of (sequence, first seen) samples, at most one per <see cref="SampleEveryTicks"/>, so
/// the answer is late by at most that much. One writer (the leg's receiver); the answer is published for any reader.
/// </summary>
public sealed class LagClock
{
    private const int Capacity = 64;

    private readonly long[] _sequences = new long[Capacity];
    private readonly long[] _seenAt = new long[Capacity];
    private readonly long _sampleEveryTicks;
    private int _first;
    private int _count;
    private long _persisted;
    private long _oldestPendingSince; // 0: nothing pending

    /// <param name="sampleEveryTicks">The least time between two samples, in <see cref="System.Diagnostics.Stopwatch"/> ticks.</param>
    public LagClock(long sampleEveryTicks) => _sampleEveryTicks = sampleEveryTicks;

    public long SampleEveryTicks => _sampleEveryTicks;

    /// <summary>When (Stopwatch ticks) the oldest sequence not persisted here was first known to exist; 0 when caught up.</summary>
    public long OldestPendingSince => Volatile.Read(ref _oldestPendingSince);

    /// <summary>The peer's log reaches <paramref name="sequence"/>, as learnt at <paramref name="nowTicks"/>.</summary>
    public void PeerAt(long sequence, long nowTicks)
    {
        if (sequence <= _persisted) return;
        if (_count > 0)
        {
            var last = (_first + _count - 1) % Capacity;
            if (sequence <= _sequences[last]) return;
            // Too soon after the last sample, or no room: the last sample covers this sequence too (its time is
            // earlier, so the lag is overstated by at most the sampling interval, never understated).
            if (nowTicks - _seenAt[last] < _sampleEveryTicks || _count == Capacity)
            {
                _sequences[last] = sequence;
                return;
            }
        }
        var slot = (_first + _count) % Capacity;
        _sequences[slot] = sequence;
        _seenAt[slot] = nowTicks;
        _count++;
        Publish();
    }

    /// <summary>This node persisted the peer's log up to <paramref name="sequence"/>.</summary>
    public void Persisted(long sequence)
    {
        _persisted = sequence;
        while (_count > 0 && _sequences[_first] <= sequence)
        {
            _first = (_first + 1) % Capacity;
            _count--;
        }
        Publish();
    }

    /// <summary>Seconds behind at <paramref name="nowTicks"/>: 0 when nothing known of the peer waits to be persisted.</summary>
    public static double SecondsBehind(long oldestPendingSince, long nowTicks) =>
        oldestPendingSince == 0 ? 0 : Math.Max(0, (nowTicks - oldestPendingSince) / (double)System.Diagnostics.Stopwatch.Frequency);

    private void Publish() => Volatile.Write(ref _oldestPendingSince, _count == 0 ? 0 : _seenAt[_first]);
}
