using System.Security.Cryptography;
using ClusterNode.Actors.Streams;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Tests.Simulation;

/// <summary>What one simulated run is made of, all drawn from its seed.</summary>
internal sealed record SimSettings(
    int Nodes,
    int Keys,
    int Writes,
    long FaultPhaseMs,
    long AuditRetention,
    StreamLimits Limits,
    double DropRate,
    double DuplicateRate,
    double SlowRate,
    double CrashRate,
    double PartitionRate,
    double ClockStepRate,
    double ChunkWriteFailure,
    double SealFailure,
    double FlushFailure,
    double JournalFailure)
{
    public long HeartbeatMs => 200;
    public long IdleCheckMs => 250;
    public long IdleTimeoutMs => 3_000;
    public long QuietStreamMs => 1_000;
    public long PeerCheckMs => 500;
    public long BackoffMs => 300;
    public long ReceiptIntervalMs => 200;
    public long AwaitedPollMs => 200;
    public int MaxPersistMs => 20;
    public int MaxFlushMs => 30;
    public int MaxChunkWriteMs => 5;

    public static SimSettings Draw(Random random)
    {
        double Rate(params double[] choices) => choices[random.Next(choices.Length)];
        return new SimSettings(
            Nodes: random.Next(2, 6),
            Keys: random.Next(2, 12),
            Writes: random.Next(10, 150),
            FaultPhaseMs: random.Next(2_000, 30_000),
            AuditRetention: random.Next(4) == 0 ? random.Next(3, 15) : 10_000,
            // Tiny chunks, frames and windows: every blob takes several chunks, every frame a few records, and the
            // window fills, so flow control and continuity are exercised by runs of a few dozen writes.
            Limits: new StreamLimits(ChunkBytes: random.Next(16, 128), FrameTargetBytes: random.Next(200, 1_500), MaxFramePayloadBytes: 64 * 1024,
                WindowBytes: random.Next(600, 4_000)),
            DropRate: Rate(0, 0.002, 0.01, 0.05),
            DuplicateRate: Rate(0, 0.002, 0.01, 0.03),
            SlowRate: Rate(0, 0.01, 0.05, 0.2),
            CrashRate: Rate(0, 0.05, 0.2),
            PartitionRate: Rate(0, 0.1, 0.3),
            ClockStepRate: Rate(0, 0.05),
            ChunkWriteFailure: Rate(0, 0, 0.002, 0.01),
            SealFailure: Rate(0, 0, 0.02, 0.1),
            FlushFailure: Rate(0, 0, 0.02, 0.1),
            JournalFailure: Rate(0, 0, 0.01, 0.05));
    }
}

/// <summary>
/// A deterministic simulation of replication among 2 to 5 nodes in one thread, with no real time: a simulated network
/// that drops, duplicates, delays and reorders messages and partitions nodes; simulated disks whose saves fail or fail
/// halfway and which lose everything unsynced on a crash; nodes crashing and restarting at random points; wall clocks
/// stepped back. After every step the invariants of the durability watermark are checked; at the end, with the faults
/// healed, every node must hold the same records and every blob byte-exact. Everything comes from one seed.
/// </summary>
internal sealed class Simulation
{
    /// <summary>The simulated wall clock starts here (2026-01-01), so hybrid logical clocks look real.</summary>
    public const long EpochMs = 1_767_225_600_000;

    /// <summary>How long the healed cluster may take to converge, in simulated time.</summary>
    private const long ConvergeWithinMs = 120_000;

    private readonly PriorityQueue<Action, (long TimeMs, long Order)> _events = new();
    private readonly Dictionary<string, SimNode> _nodes = new();
    private readonly HashSet<(string, string)> _cut = new();
    private readonly Queue<string> _trace = new();
    private readonly Dictionary<string, byte[]> _blobBytes = new();
    private readonly Dictionary<(string From, string To), long> _lastDelivery = new();
    private long _order;
    private bool _faulty = true;

    public Simulation(int seed)
    {
        Seed = seed;
        Random = new Random(seed);
        Settings = SimSettings.Draw(Random);
        for (var i = 1; i <= Settings.Nodes; i++) _nodes[$"n{i}"] = new SimNode(this, $"n{i}");
    }

    public int Seed { get; }
    public Random Random { get; }
    public SimSettings Settings { get; }
    public long NowMs { get; private set; }
    public long Steps { get; private set; }
    public IReadOnlyCollection<SimNode> Nodes => _nodes.Values;

    /// <summary>Failures found: the run stops at the first.</summary>
    public string? Violation { get; private set; }

    /// <summary>How often each interesting thing happened in this run: shows what the seeds exercised.</summary>
    public Dictionary<string, long> Counts { get; } = new();

    public void Count(string what) => Counts[what] = Counts.GetValueOrDefault(what) + 1;

    public void Trace(string line)
    {
        _trace.Enqueue($"{NowMs,7} ms  {line}");
        if (_trace.Count > 60) _trace.Dequeue();
    }

    public string RecentTrace => string.Join('\n', _trace);

    // ---------------------------------------------------------------- the run

    public void Run()
    {
        foreach (var node in Nodes)
            foreach (var peer in Nodes.Where(p => p != node))
                node.Connect(peer.Id);
        for (var i = 0; i < Settings.Writes; i++)
        {
            Schedule(Random.NextInt64(0, Settings.FaultPhaseMs), () =>
            {
                var up = Nodes.Where(n => n.Up).ToList();
                if (up.Count > 0) up[Random.Next(up.Count)].Write(Random);
            });
        }
        for (var at = 100L; at < Settings.FaultPhaseMs; at += 100) Schedule(at, InjectFaults);
        Schedule(Settings.FaultPhaseMs, Heal);

        while (Violation is null && _events.TryDequeue(out var action, out var when))
        {
            NowMs = when.TimeMs;
            Steps++;
            action();
            if (!_faulty && NowMs > Settings.FaultPhaseMs + ConvergeWithinMs) break;
            if (!_faulty && Steps % 64 == 0 && Converged()) return;
        }
        if (Violation is null && !Converged())
            Fail($"not converged {ConvergeWithinMs / 1000} s after the faults healed:\n{Differences()}\n{string.Join('\n', Nodes.Select(n => n.Describe()))}");
    }

    public void Schedule(long delayMs, Action action) => _events.Enqueue(action, (NowMs + delayMs, _order++));

    private void InjectFaults()
    {
        if (!_faulty) return;
        var node = Nodes.ElementAt(Random.Next(Nodes.Count));
        if (Random.NextDouble() < Settings.CrashRate / 10 && node.Up)
        {
            Trace($"{node.Id} crashes");
            Count("crash");
            node.Crash();
            Schedule(Random.Next(50, 3_000), () => Restart(node));
        }
        if (Random.NextDouble() < Settings.PartitionRate / 10)
        {
            var others = Nodes.Where(n => n != node).Select(n => n.Id).ToList();
            var cut = others.Where(_ => Random.Next(2) == 0).Select(o => (node.Id, o)).ToList();
            Trace($"{node.Id} cut off from {string.Join(", ", cut.Select(c => c.Item2))}");
            Count("partition");
            foreach (var pair in cut) _cut.Add(pair);
            Schedule(Random.Next(200, 5_000), () =>
            {
                foreach (var pair in cut) _cut.Remove(pair);
            });
        }
        if (Random.NextDouble() < Settings.ClockStepRate / 10)
        {
            node.WallClockOffsetMs -= Random.Next(1, 5_000);
            Trace($"{node.Id}'s wall clock stepped back to offset {node.WallClockOffsetMs} ms");
            Count("wall clock stepped back");
        }
    }

    private void Restart(SimNode node)
    {
        if (node.Up) return;
        Trace($"{node.Id} restarts");
        node.Restart(Nodes.Where(n => n != node).Select(n => n.Id));
    }

    private void Heal()
    {
        Trace("faults healed");
        _faulty = false;
        _cut.Clear();
        foreach (var node in Nodes.Where(n => !n.Up)) Restart(node);
    }

    // ---------------------------------------------------------------- the network

    public bool Reachable(string from, string to) =>
        _nodes[to].Up && !_cut.Contains((from, to)) && !_cut.Contains((to, from));

    /// <summary>
    /// At-most-once and in order, like an Akka.Remote association: a message is lost while the nodes are cut off (or
    /// the receiver is down), and while faults are on it is sometimes dropped, duplicated, or held back so that later
    /// messages overtake it (as across a reconnection).
    /// </summary>
    public void Send(string from, string to, object message)
    {
        if (_faulty && Random.NextDouble() < Settings.DropRate)
        {
            Count("message dropped");
            return;
        }
        var copies = _faulty && Random.NextDouble() < Settings.DuplicateRate ? 2 : 1;
        if (copies == 2) Count("message duplicated");
        for (var i = 0; i < copies; i++)
        {
            var overtaken = _faulty && Random.NextDouble() < Settings.SlowRate;
            if (overtaken) Count("message overtaken");
            var at = NowMs + (overtaken ? Random.Next(20, 600) : Random.Next(1, 10));
            if (!overtaken)
            {
                at = Math.Max(at, _lastDelivery.GetValueOrDefault((from, to)));
                _lastDelivery[(from, to)] = at;
            }
            Schedule(at - NowMs, () =>
            {
                if (Reachable(from, to)) _nodes[to].Receive(from, message);
            });
        }
    }

    // ---------------------------------------------------------------- blobs

    public (BlobRef Ref, byte[] Bytes) NewBlob(Random random)
    {
        var bytes = new byte[random.Next(0, 400)];
        random.NextBytes(bytes);
        var fileId = Convert.ToHexStringLower(BitConverter.GetBytes(random.NextInt64())) + Convert.ToHexStringLower(BitConverter.GetBytes(random.NextInt64()));
        _blobBytes[fileId] = bytes;
        return (new BlobRef("f" + random.Next(3), fileId, bytes.Length, SHA256.HashData(bytes)), bytes);
    }

    // ---------------------------------------------------------------- invariants

    /// <summary>
    /// The lowest sequence of <paramref name="peer"/>'s log (every entry it ever wrote, trimmed or not) whose record
    /// <paramref name="follower"/> does not hold: neither that version with every blob durable, nor a newer one. Only
    /// the last entry of each record counts (the sender skips replaced ones), and none the follower wrote itself.
    /// A cursor or receipt must stay below it.
    /// </summary>
    private long FirstNotHeld(SimNode follower, SimNode peer)
    {
        var last = new Dictionary<(string, string), AuditEntry>();
        foreach (var entry in peer.Store.History) last[(entry.Table, entry.Id)] = entry;
        var first = long.MaxValue;
        foreach (var entry in last.Values)
        {
            if (entry.Version.Origin == follower.Id || entry.Sequence >= first) continue;
            var held = follower.Store.Get(entry.Table, entry.Id);
            var ok = held is not null && (held.Version > entry.Version || (held.Version == entry.Version && held.Blobs.All(follower.Store.HoldsBlob)));
            if (!ok) first = entry.Sequence;
        }
        return first;
    }

    /// <summary>After every cursor write: never backwards, never past an unapplied record or a blob not durable.</summary>
    public void CheckCursor(SimNode follower, string peer, long before, long after)
    {
        if (after < before) Fail($"{follower.Id}'s persisted cursor for {peer} moved back from {before} to {after}");
        var firstNotHeld = FirstNotHeld(follower, _nodes[peer]);
        if (after >= firstNotHeld)
            Fail($"{follower.Id}'s persisted cursor for {peer} is {after}, past sequence {firstNotHeld} which it does not hold durably");
    }

    /// <summary>A receipt tells the peer what is durable here: it must be.</summary>
    public void CheckReceipt(SimNode follower, string peer, long receipt)
    {
        var firstNotHeld = FirstNotHeld(follower, _nodes[peer]);
        if (receipt >= firstNotHeld)
            Fail($"{follower.Id} receipts {receipt} to {peer}, past sequence {firstNotHeld} which it does not hold durably");
    }

    private bool Converged() =>
        Nodes.All(n => n.Up) &&
        Nodes.All(f => Nodes.Where(p => p != f).All(p => f.Journal.GetValueOrDefault(p.Id)?.Sequence == p.Store.LastSequence)) &&
        Differences().Length == 0;

    /// <summary>Records that differ between nodes, and blobs missing or wrong anywhere.</summary>
    private string Differences()
    {
        var problems = new List<string>();
        var reference = Nodes.First();
        foreach (var node in Nodes)
        {
            foreach (var peer in Nodes.Where(p => p != node))
            {
                var cursor = node.Journal.GetValueOrDefault(peer.Id)?.Sequence ?? 0;
                if (cursor != peer.Store.LastSequence) problems.Add($"{node.Id}'s cursor for {peer.Id} is {cursor} of {peer.Store.LastSequence}");
            }
            var mine = node.Store.Records.ToDictionary(r => (r.Table, r.Id));
            var theirs = reference.Store.Records.ToDictionary(r => (r.Table, r.Id));
            foreach (var key in mine.Keys.Union(theirs.Keys))
            {
                var a = mine.GetValueOrDefault(key);
                var b = theirs.GetValueOrDefault(key);
                if (a?.Version != b?.Version || a?.Deleted != b?.Deleted || !(a?.Data ?? []).AsSpan().SequenceEqual(b?.Data ?? []))
                    problems.Add($"{key.Table}/{key.Id}: {node.Id} has {a?.Version.ToString() ?? "nothing"}, {reference.Id} has {b?.Version.ToString() ?? "nothing"}");
            }
            foreach (var record in node.Store.Records)
            foreach (var blob in record.Blobs)
            {
                if (!node.Store.HoldsBlob(blob) || node.Store.TryOpenBlob(blob) is not MemoryStream stream || !stream.ToArray().AsSpan().SequenceEqual(_blobBytes[blob.FileId]))
                    problems.Add($"{node.Id} lacks blob {blob.FileId} of {record.Table}/{record.Id} (or holds other bytes)");
            }
        }
        return string.Join('\n', problems.Take(20));
    }

    private void Fail(string violation)
    {
        Violation ??= violation;
        Trace("VIOLATION: " + violation);
    }
}
