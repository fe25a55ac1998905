namespace ClusterNode.Tests.Chaos;

/// <summary>One fault of a chaos run, <see cref="At"/> after the faults begin, on node <see cref="Node"/> (0 = node 1).</summary>
public abstract record ChaosEvent(TimeSpan At, int Node)
{
    protected string NodeName => $"n{Node + 1}";
}

/// <summary>A fault of the proxy in front of one node: reset, close, blackhole or refuse the connections into it.</summary>
public sealed record ProxyFaultEvent(TimeSpan At, int Node, ProxyFault Fault) : ChaosEvent(At, Node)
{
    public override string ToString() => Fault.Kind switch
    {
        ProxyFaultKind.Reset => $"reset the connections into {NodeName}",
        ProxyFaultKind.Close => $"close the connections into {NodeName}",
        ProxyFaultKind.Blackhole => $"blackhole the connections into {NodeName} for {Fault.Duration.TotalSeconds:F1} s",
        _ => $"refuse new connections into {NodeName} for {Fault.Duration.TotalSeconds:F1} s",
    };
}

/// <summary>The node is cut off from all others both ways, whichever side opened a connection.</summary>
public sealed record PartitionEvent(TimeSpan At, int Node, TimeSpan Duration) : ChaosEvent(At, Node)
{
    public override string ToString() => $"partition {NodeName} from the others for {Duration.TotalSeconds:F1} s";
}

/// <summary>SIGKILL, then a restart on the same ports and data directory <see cref="Down"/> later.</summary>
public sealed record KillEvent(TimeSpan At, int Node, TimeSpan Down) : ChaosEvent(At, Node)
{
    public override string ToString() => $"SIGKILL {NodeName}, restart it {Down.TotalSeconds:F1} s later";
}

/// <summary>
/// The whole fault schedule of a chaos run, drawn from its seed before the run starts, so that a seed always
/// replays the same faults in the same order at the same times (what the nodes make of them still depends on timing).
/// </summary>
public static class ChaosPlan
{
    /// <summary>Room left after the last kill for the restarted node to start before the faults end.</summary>
    private static readonly TimeSpan KillsEndBefore = TimeSpan.FromSeconds(6);
    private static readonly TimeSpan MaxProxyFault = TimeSpan.FromSeconds(5);

    public static IReadOnlyList<ChaosEvent> Create(Random random, int nodeCount, TimeSpan window, bool longPartitions)
    {
        var events = new List<ChaosEvent>();
        events.AddRange(Kills(random, nodeCount, window));
        for (var at = Seconds(random, 0.5, 2.0); at < window - TimeSpan.FromSeconds(1); at += Seconds(random, 0.3, 2.5))
        {
            var node = random.Next(nodeCount);
            // Every fault is over when the window is: then the network heals and convergence is timed.
            var left = window - at;
            if (random.Next(5) == 0)
            {
                var duration = longPartitions && random.Next(10) == 0 ? Seconds(random, 10, 30) : Seconds(random, 2, 8);
                events.Add(new PartitionEvent(at, node, duration < left ? duration : left));
            }
            else
            {
                var fault = ProxyFault.Random(random, MaxProxyFault);
                events.Add(new ProxyFaultEvent(at, node, fault.Duration < left ? fault : fault with { Duration = left }));
            }
        }
        return events.OrderBy(e => e.At).ToList();
    }

    /// <summary>
    /// One kill per slot, one node down at a time. The first slots kill every node once in a drawn order, so node 1
    /// (the first seed) and every node taking writes are killed in every run; later slots (long runs) pick at random.
    /// </summary>
    private static IEnumerable<ChaosEvent> Kills(Random random, int nodeCount, TimeSpan window)
    {
        var start = TimeSpan.FromSeconds(1);
        var slots = Math.Max(nodeCount, (int)(window.TotalSeconds / 30));
        var slot = (window - KillsEndBefore - start) / slots;
        var order = Enumerable.Range(0, nodeCount).OrderBy(_ => random.Next()).ToList();
        for (var i = 0; i < slots; i++)
        {
            var node = i < nodeCount ? order[i] : random.Next(nodeCount);
            var down = Seconds(random, 2, 4);
            // The node is restarted at least 5 s before the next slot, so it has time to start and join.
            var latest = Math.Max(0, (slot - down - TimeSpan.FromSeconds(5)).TotalSeconds);
            yield return new KillEvent(start + slot * i + TimeSpan.FromSeconds(random.NextDouble() * latest), node, down);
        }
    }

    private static TimeSpan Seconds(Random random, double min, double max) => TimeSpan.FromSeconds(min + random.NextDouble() * (max - min));
}
