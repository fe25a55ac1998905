namespace ClusterNode.Persistence.Records;

/// <summary>
/// Hybrid logical clock packed in 64 bits: 48 bits of Unix milliseconds, 16 bits of logical counter.
/// It never goes backwards: a wall clock stepped back keeps the last time and counts up, and the store
/// restores the highest value it ever issued or observed at start, so new writes always beat old ones.
/// </summary>
public sealed class HybridLogicalClock
{
    private const int CounterBits = 16;
    private const ulong CounterMask = (1UL << CounterBits) - 1;
    private readonly Func<long> _wallClockMs;
    private readonly object _gate = new();
    private ulong _last;

    public HybridLogicalClock(ulong restored = 0, Func<long>? wallClockMs = null)
    {
        _wallClockMs = wallClockMs ?? (() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        _last = restored;
    }

    public ulong Last { get { lock (_gate) return _last; } }

    public static long PhysicalMs(ulong hlc) => (long)(hlc >> CounterBits);

    /// <summary>A timestamp greater than every one issued or observed before.</summary>
    public ulong Next()
    {
        lock (_gate)
        {
            var wall = (ulong)Math.Max(0, _wallClockMs()) << CounterBits;
            // Same or earlier millisecond (or a clock stepped back): count up from the last value; a counter
            // overflow simply carries into the millisecond bits, which keeps the order.
            if (wall <= _last && _last == ulong.MaxValue)
                throw new InvalidOperationException("the hybrid logical clock is at its largest value (a peer's clock is far in the future?); no newer version can be issued");
            _last = wall > _last ? wall : _last + 1;
            return _last;
        }
    }

    /// <summary>
    /// Takes in a timestamp seen from another node, so later local writes order after it, but never further than
    /// <paramref name="maxLeadMs"/> ahead of this node's wall clock: a peer whose clock runs fast must not drag
    /// every node's versions into the future with it. (A local overwrite still beats the version it replaces: the
    /// store issues it above that version, see <see cref="After"/>.)
    /// </summary>
    public void Observe(ulong remote, long maxLeadMs = long.MaxValue)
    {
        lock (_gate)
        {
            var wallMs = Math.Max(0, _wallClockMs());
            var cap = maxLeadMs >= (long)(ulong.MaxValue >> CounterBits) - wallMs ? ulong.MaxValue : (ulong)(wallMs + maxLeadMs) << CounterBits;
            var taken = Math.Min(remote, cap);
            if (taken > _last) _last = taken;
        }
    }

    /// <summary>
    /// A timestamp for a write that replaces a version stamped <paramref name="replaced"/>: the next one, or just
    /// above <paramref name="replaced"/> when that is ahead (a peer's fast clock), so an overwrite always wins. The
    /// clock itself stays where it is: one record's fast version must not carry every later write into the future.
    /// </summary>
    public ulong After(ulong replaced)
    {
        var next = Next();
        if (next > replaced) return next;
        if (replaced == ulong.MaxValue)
            throw new InvalidOperationException("the record's version is the largest a hybrid logical clock can hold; no newer version can be issued");
        return replaced + 1;
    }

    /// <summary>This node's wall clock in Unix milliseconds, as the clock reads it.</summary>
    public long WallClockMs() => _wallClockMs();

    internal static ulong Compose(long ms, ushort counter) => ((ulong)ms << CounterBits) | (counter & CounterMask);
}
