using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using ClusterNode.Tests.EndToEnd;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Chaos;

/// <summary>
/// Issue 6 on real processes: three nodes, each reachable by the others only through a <see cref="TcpFaultProxy"/>,
/// take writes from clients on every node while connections are reset, closed, blackholed and refused, nodes are
/// partitioned off, and nodes are killed with SIGKILL and restarted. Then the network heals. What users care about
/// must hold: no node process ended on its own; the nodes converge (verify exits 0, every node sees all three Up);
/// every acknowledged write is on every other node with its exact data and blob bytes, read with its source node
/// stopped. Each run prints its seed; CLUSTER_TEST_SEED=&lt;seed&gt; replays its fault schedule.
/// </summary>
public sealed class ChaosSpec : IAsyncLifetime
{
    private const int NodeCount = 3;
    private const int ClientsPerNode = 2;
    private static readonly TimeSpan ConvergeWithin = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan StartWithin = TimeSpan.FromSeconds(90);
    /// <summary>A read that fails with its source stopped gets this long to come right (a blob still on its way).</summary>
    private static readonly TimeSpan ReadBackWithin = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Node log lines the run counts; those marked Echo also go to the test output (every line goes to the node's log
    /// file, kept when the run fails).
    /// </summary>
    private static readonly (string Key, Regex Pattern, bool Echo)[] NotableLines =
    [
        ("started", new Regex(@"^--- started|^cluster-node \S+ at "), true),
        ("new cluster formed", new Regex("forming a new cluster"), true),
        ("quarantine", new Regex("quarantin", RegexOptions.IgnoreCase), true),
        ("removed", new Regex("Leader is removing|removed from the cluster"), true),
        ("downed", new Regex(@"as \[Down\]|SBR|split.brain|[Dd]owning"), true),
        ("new incarnation", new Regex("New incarnation of existing member"), true),
        ("ActorSystem replaced", new Regex("ActorSystem stopped|starting a new ActorSystem"), true),
        ("unreachable", new Regex(@"Marking node\(s\) as UNREACHABLE"), true),
        ("reachable again", new Regex(@"Marking node\(s\) as REACHABLE"), true),
        ("fatal", new Regex("cannot start|Unhandled exception|FATAL|OutOfMemory"), true),
        // The node's console log ("2026-12-02T02:05:35.123Z fail: ..."; src/Node/Hosting/NodeLogging.cs), or Akka's own logger.
        ("ERROR level", new Regex(@"^\[ERROR\]|^\S+ fail: "), false),
        ("WARNING level", new Regex(@"^\[WARNING\]|^\S+ warn: "), false),
    ];

    private readonly ITestOutputHelper _output;
    private readonly string _root = TestData.TempDirectory("chaos");
    private readonly HttpClient _client = new(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(5) }) { Timeout = TimeSpan.FromSeconds(20) };
    private readonly List<ChaosNode> _nodes = new();
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly ConcurrentDictionary<string, int> _notableCounts = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private string _logs = "";
    private int _partitions, _blackholes, _refusals;

    public ChaosSpec(ITestOutputHelper output) => _output = output;

    [Fact]
    public Task Three_nodes_taking_writes_must_lose_nothing_and_converge_through_resets_partitions_and_kills() =>
        Run(TestSeed.Next(), TimeSpan.FromSeconds(40), longPartitions: false);

    [SoakFact]
    public Task Soak_three_nodes_taking_writes_must_lose_nothing_and_converge_through_resets_partitions_and_kills() =>
        Run(TestSeed.Next(), TimeSpan.FromMinutes(5), longPartitions: true);

    private async Task Run(int seed, TimeSpan window, bool longPartitions)
    {
        Say($"seed {seed} (replay with CLUSTER_TEST_SEED={seed}), faults for {window.TotalSeconds:F0} s");
        var plan = ChaosPlan.Create(new Random(seed), NodeCount, window, longPartitions);
        Say($"plan: {Describe(plan)}");
        _logs = Path.Combine(_root, "logs");
        Directory.CreateDirectory(_logs);

        StartCluster();
        foreach (var node in _nodes) await _client.Healthy(node.Current, StartWithin);
        await Loopback.Eventually(async () =>
        {
            foreach (var node in _nodes) Assert.Equal(NodeCount, NodeApi.UpMembers(await _client.Status(node.Current)).Count);
        }, StartWithin);
        Say($"{NodeCount} nodes up: " + string.Join(", ", _nodes.Select(n => $"{n.Name} (akka :{n.Launch.AkkaPort} behind :{n.Proxy.ListenPort}, http :{n.Launch.HttpPort})")));

        // Faults and writes for the window.
        var writers = new ChaosWriters(_client, node => _nodes[node].Url);
        using var stopWriting = new CancellationTokenSource();
        var clients = (from node in Enumerable.Range(0, NodeCount)
                       from client in Enumerable.Range(0, ClientsPerNode)
                       select Task.Run(() => writers.Loop(node, client, new Random(seed + 1 + node * ClientsPerNode + client), stopWriting.Token))).ToList();
        var faultsBegin = _clock.Elapsed;
        var faults = plan.Select(e => Execute(e, faultsBegin)).ToList();
        await Task.Delay(window);
        await stopWriting.CancelAsync();
        await Task.WhenAll(clients);
        await Task.WhenAll(faults);
        Say($"faults over; {writers.Acknowledged.Count} writes acknowledged");

        // A node that ended on its own is restarted, as its supervisor would, so that the rest can still be checked.
        foreach (var node in _nodes.Where(n => n.Current.HasExited))
        {
            Say($"{node.Name} is not running: starting it again as a supervisor would");
            StartNode(node);
        }

        foreach (var node in _nodes) node.Proxy.Heal();
        Say("network healed: every proxy passes everything through");
        var converged = await Converge();
        CheckNoNodeEndedOnItsOwn("after the heal");

        foreach (var node in _nodes) await ReadBackWithSourceStopped(node, writers.Acknowledged.Where(w => w.Source == node.Index).ToList());
        CheckNoNodeEndedOnItsOwn("at the end");

        PrintFigures(seed, writers, converged);
        Assert.True(_failures.IsEmpty, $"seed {seed} (CLUSTER_TEST_SEED={seed}); node logs in {_logs}:\n" + string.Join("\n", _failures));
    }

    private void StartCluster()
    {
        var proxyPorts = Enumerable.Range(0, NodeCount).Select(_ => Loopback.FreePort()).ToList();
        for (var i = 0; i < NodeCount; i++)
        {
            var name = $"n{i + 1}";
            var akkaPort = Loopback.FreePort();
            var proxy = new TcpFaultProxy(name, proxyPorts[i], akkaPort);
            // The node binds its real port and advertises its proxy's; the seeds are the proxies, node 1 first, so a
            // restarted node 1 joins the running cluster instead of forming a new one.
            var launch = new NodeLaunch(name, $"hocon/local/node{i + 1}.conf", Path.Combine(_root, name), akkaPort, Loopback.FreePort(), proxyPorts)
            {
                Settings =
                [
                    $"akka.remote.dot-netty.tcp.public-port = {proxyPorts[i]}",
                    "akka.remote.dot-netty.tcp.public-hostname = \"127.0.0.1\"",
                    "akka.loglevel = INFO",
                ],
                LogFile = Path.Combine(_logs, $"{name}.log"),
                Echo = Notable,
            };
            var node = new ChaosNode(i, launch, proxy);
            _nodes.Add(node);
            StartNode(node);
        }
    }

    private void StartNode(ChaosNode node)
    {
        var process = NodeProcess.Start(node.Launch, _output);
        node.Current = process;
        node.Incarnations.Add(process);
        _ = WatchForAnExitOfItsOwn(node, process);
    }

    private async Task WatchForAnExitOfItsOwn(ChaosNode node, NodeProcess process)
    {
        var code = await process.Exited;
        if (process.EndedByTest) return;
        Fail($"{node.Name} (pid {process.Pid}) exited on its own with code {code} at {_clock.Elapsed.TotalSeconds:F1} s; its last lines:\n" +
             string.Join("\n", Tail(Path.Combine(_logs, $"{node.Name}.log"), 12).Select(l => "    " + l)));
    }

    private async Task Execute(ChaosEvent fault, TimeSpan faultsBegin)
    {
        var wait = faultsBegin + fault.At - _clock.Elapsed;
        if (wait > TimeSpan.Zero) await Task.Delay(wait);
        var node = _nodes[fault.Node];
        switch (fault)
        {
            case ProxyFaultEvent { Fault.Kind: ProxyFaultKind.Reset }:
                Say($"{fault}: {node.Proxy.ResetAll()} reset");
                break;
            case ProxyFaultEvent { Fault.Kind: ProxyFaultKind.Close }:
                Say($"{fault}: {node.Proxy.CloseAll()} closed");
                break;
            case ProxyFaultEvent proxyFault:
                if (proxyFault.Fault.Kind == ProxyFaultKind.Blackhole) Interlocked.Increment(ref _blackholes);
                else Interlocked.Increment(ref _refusals);
                node.Proxy.Inject(proxyFault.Fault);
                Say(fault.ToString());
                break;
            case PartitionEvent partition:
                Interlocked.Increment(ref _partitions);
                node.Proxy.Blackhole(partition.Duration);
                foreach (var other in _nodes.Where(n => n != node)) other.Proxy.Blackhole(partition.Duration, originPort: node.Proxy.ListenPort);
                Say(fault.ToString());
                break;
            case KillEvent kill:
                var victim = node.Current;
                await victim.KillAsync();
                node.Kills++;
                Say($"{fault}: pid {victim.Pid} killed");
                await Task.Delay(kill.Down);
                StartNode(node);
                Say($"{node.Name} started again on its ports and data (pid {node.Current.Pid})");
                break;
        }
    }

    /// <summary>Time from the heal until every node sees all three Up and verify finds no difference; null if never.</summary>
    private async Task<TimeSpan?> Converge()
    {
        var healed = Stopwatch.StartNew();
        var state = "not checked yet";
        var nextReport = TimeSpan.FromSeconds(15);
        try
        {
            await Loopback.Eventually(async () =>
            {
                if (healed.Elapsed > nextReport)
                {
                    Say($"not converged {healed.Elapsed.TotalSeconds:F0} s after the heal: {state.Split('\n')[0]}");
                    nextReport += TimeSpan.FromSeconds(15);
                }
                var (whole, views) = await MembershipViews();
                state = views;
                Assert.True(whole, views);
                var verify = await NodeCli.RunAsync(NodeCli.Verify(_nodes.Select(n => n.Current)));
                state = $"every node sees all {NodeCount} Up, but verify {verify}";
                Assert.Equal(0, verify.ExitCode);
            }, ConvergeWithin);
            Say($"converged {healed.Elapsed.TotalSeconds:F1} s after the heal");
            return healed.Elapsed;
        }
        catch (Exception)
        {
            var lines = state.Split('\n');
            Fail($"not converged within {ConvergeWithin.TotalSeconds:F0} s of the heal: " +
                 string.Join("\n    ", lines.Take(25)) + (lines.Length > 25 ? $"\n    ... {lines.Length - 25} more lines" : ""));
            return null;
        }
    }

    /// <summary>
    /// Which members each node sees Up and reachable, by node name, e.g. "n1 sees n1 !; n2 sees n2 n3 n1": a "!" marks
    /// a node that does not see all of them.
    /// </summary>
    private async Task<(bool Whole, string Views)> MembershipViews()
    {
        var names = _nodes.ToDictionary(n => $"akka.tcp://cluster-node@127.0.0.1:{n.Proxy.ListenPort}", n => n.Name);
        var views = new List<string>();
        foreach (var node in _nodes)
        {
            try
            {
                var up = NodeApi.UpMembers(await _client.Status(node.Current)).Select(a => names.GetValueOrDefault(a, a)).Order().ToList();
                views.Add($"{node.Name} sees {string.Join(" ", up)}{(up.Distinct().Count() == NodeCount ? "" : " !")}");
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
            {
                views.Add($"{node.Name} does not answer /status !");
            }
        }
        return (views.All(v => !v.EndsWith('!')), string.Join("; ", views));
    }

    private void CheckNoNodeEndedOnItsOwn(string when)
    {
        foreach (var node in _nodes)
            if (node.Current.HasExited && !node.Current.EndedByTest)
                Fail($"{node.Name} is not running {when}");
        Say($"{when}: " + string.Join(", ", _nodes.Select(n => $"{n.Name} {(n.Current.HasExited ? "NOT running" : "running")}")));
    }

    /// <summary>
    /// Stops <paramref name="source"/> (SIGINT) so nothing can be fetched from it again, reads each of its acknowledged
    /// writes from every other node, then starts it again.
    /// </summary>
    private async Task ReadBackWithSourceStopped(ChaosNode source, IReadOnlyList<ChaosWrite> writes)
    {
        try
        {
            await source.Current.StopAsync();
        }
        catch (OperationCanceledException)
        {
            Fail($"{source.Name} did not stop within 60 s of SIGINT; killed instead");
            await source.Current.KillAsync();
        }
        var readers = _nodes.Where(n => n != source).Select(n => n.Current).ToList();
        Say($"{source.Name} stopped; reading its {writes.Count} acknowledged writes from {string.Join(" and ", readers.Select(r => r.Name))}");
        var checks = (from write in writes from reader in readers select (write, reader)).ToList();
        var problems = await Problems(checks);
        if (!problems.IsEmpty)
        {
            Say($"{problems.Count} reads failed; trying them again for up to {ReadBackWithin.TotalSeconds:F0} s");
            try
            {
                await Loopback.Eventually(async () =>
                {
                    problems = await Problems(problems.Keys);
                    Assert.Empty(problems);
                }, ReadBackWithin);
            }
            catch (Exception)
            {
                var kinds = problems.GroupBy(p => $"{p.Key.Reader.Name}: {string.Join(' ', p.Value.Split(' ').Take(3))}")
                    .OrderBy(g => g.Key).Select(g => $"{g.Count()} x {g.Key}");
                Fail($"{problems.Count} of {checks.Count} reads of {source.Name}'s acknowledged writes failed with {source.Name} stopped " +
                     $"({string.Join(", ", kinds)}); the first ones:\n" +
                     string.Join("\n", problems.OrderBy(p => p.Key.Write.Id).Take(8).Select(p => $"    {p.Key.Write.RecordPath} on {p.Key.Reader.Name}: {p.Value}")));
            }
        }
        if (problems.IsEmpty) Say($"all {writes.Count} writes of {source.Name} read back exact from {readers.Count} nodes");

        StartNode(source);
        try
        {
            await _client.Healthy(source.Current, StartWithin);
            Say($"{source.Name} started again and healthy");
        }
        catch (Exception e)
        {
            Fail($"{source.Name} was not healthy within {StartWithin.TotalSeconds:F0} s of its restart after the read-back: {e.Message}");
        }
    }

    private async Task<ConcurrentDictionary<(ChaosWrite Write, NodeProcess Reader), string>> Problems(IEnumerable<(ChaosWrite Write, NodeProcess Reader)> checks)
    {
        var problems = new ConcurrentDictionary<(ChaosWrite Write, NodeProcess Reader), string>();
        await Parallel.ForEachAsync(checks.ToList(), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (check, _) =>
        {
            if (await Problem(check.Write, check.Reader) is { } problem) problems[check] = problem;
        });
        return problems;
    }

    /// <summary>What is wrong with <paramref name="write"/> on <paramref name="reader"/>, or null if it is there exactly.</summary>
    private async Task<string?> Problem(ChaosWrite write, NodeProcess reader)
    {
        try
        {
            using var record = await _client.GetAsync(new Uri(reader.Url, write.RecordPath));
            if (record.StatusCode != HttpStatusCode.OK) return $"record answered {(int)record.StatusCode}";
            var data = (await record.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data");
            using var expected = JsonDocument.Parse(write.Json);
            if (!JsonElement.DeepEquals(data, expected.RootElement)) return $"data {data.GetRawText()} instead of {write.Json}";
            using var blob = await _client.GetAsync(new Uri(reader.Url, write.BlobPath));
            if (blob.StatusCode != HttpStatusCode.OK) return $"blob answered {(int)blob.StatusCode}";
            var bytes = await blob.Content.ReadAsByteArrayAsync();
            return bytes.AsSpan().SequenceEqual(write.Blob()) ? null : $"blob of {bytes.Length} bytes that differ from the {write.BlobBytes} written";
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or JsonException)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
    }

    private void PrintFigures(int seed, ChaosWriters writers, TimeSpan? converged)
    {
        var p = _nodes.Aggregate(ProxyFigures.Zero, (sum, n) => sum + n.Proxy.Figures);
        var acknowledged = writers.Acknowledged.GroupBy(w => w.Source).OrderBy(g => g.Key).Select(g => $"n{g.Key + 1} {g.Count()}");
        Say($"figures of seed {seed}:");
        Say($"  connections: {p.Accepted} through the proxies ({p.OriginsRead} with their origin read from the handshake), " +
            $"{p.Resets} reset, {p.Closes} closed cleanly, {p.TargetDown} found their node down");
        Say($"  partitions: {_partitions}; blackholes of one node's connections: {_blackholes}; connections held by either: {p.BlackholedConnections}");
        Say($"  refusals: {_refusals} periods, {p.RefusedConnections} connections refused");
        Say($"  kills: {_nodes.Sum(n => n.Kills)} ({string.Join(", ", _nodes.Select(n => $"{n.Name} {n.Kills}"))})");
        Say($"  writes: {writers.Acknowledged.Count} acknowledged ({string.Join(", ", acknowledged)}) of {writers.Attempts} attempted; " +
            $"{writers.ConnectionErrors} connection errors, {writers.Retries} retries after 503, {writers.UnexpectedAnswers.Count} other answers");
        foreach (var answer in writers.UnexpectedAnswers.Take(5)) Say($"    {answer}");
        Say($"  node log lines: {string.Join(", ", NotableLines.Select(n => $"{n.Key} {_notableCounts.GetValueOrDefault(n.Key)}"))}");
        Say(converged is { } time ? $"  converged {time.TotalSeconds:F1} s after the heal" : $"  NOT converged within {ConvergeWithin.TotalSeconds:F0} s of the heal");
    }

    private bool Notable(string line)
    {
        var echo = false;
        foreach (var (key, pattern, shown) in NotableLines)
        {
            if (!pattern.IsMatch(line)) continue;
            _notableCounts.AddOrUpdate(key, 1, (_, n) => n + 1);
            echo |= shown;
        }
        return echo;
    }

    private static string Describe(IReadOnlyList<ChaosEvent> plan) =>
        string.Join(", ", plan.GroupBy(e => e switch
        {
            ProxyFaultEvent p => p.Fault.Kind.ToString().ToLowerInvariant(),
            PartitionEvent => "partition",
            _ => "kill",
        }).Select(g => $"{g.Count()} {g.Key}")) +
        "; kills: " + string.Join(", ", plan.OfType<KillEvent>().Select(k => $"n{k.Node + 1} at {k.At.TotalSeconds:F1} s"));

    private static IEnumerable<string> Tail(string file, int lines)
    {
        try
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).TakeLast(lines).ToList();
        }
        catch (IOException e)
        {
            return [$"(no log: {e.Message})"];
        }
    }

    private void Fail(string failure)
    {
        _failures.Enqueue(failure);
        Say("FAILURE: " + failure);
    }

    private void Say(string line)
    {
        try { _output.WriteLine($"[{_clock.Elapsed.TotalSeconds,6:F1} s] {line}"); } catch (InvalidOperationException) { /* the test has ended */ }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        // Nothing is checked any more: SIGKILL is quicker than three nodes leaving the cluster.
        await Task.WhenAll(_nodes.SelectMany(n => n.Incarnations).Select(p => p.KillAsync()));
        await Task.WhenAll(_nodes.SelectMany(n => n.Incarnations).Select(p => p.DisposeAsync().AsTask()));
        foreach (var node in _nodes) await node.Proxy.DisposeAsync();
        _client.Dispose();
        // A failed run keeps the nodes' logs (the assertion message names them); the data goes either way.
        foreach (var node in _nodes)
            try { Directory.Delete(node.Launch.DataDirectory, recursive: true); } catch (IOException) { }
        if (_failures.IsEmpty)
            try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    /// <summary>One node of the run: how it is started, its proxy, and every process it has been.</summary>
    private sealed class ChaosNode(int index, NodeLaunch launch, TcpFaultProxy proxy)
    {
        public int Index { get; } = index;
        public string Name => Launch.Name;
        public NodeLaunch Launch { get; } = launch;
        public TcpFaultProxy Proxy { get; } = proxy;
        public Uri Url => new($"http://127.0.0.1:{Launch.HttpPort}/");
        public NodeProcess Current { get; set; } = null!;
        public List<NodeProcess> Incarnations { get; } = new();
        public int Kills { get; set; }
    }
}
