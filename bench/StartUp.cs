using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using ClusterNode.Tests.Support;

namespace ClusterNode.Bench;

/// <summary>
/// Measurement 7: start-up of the real cluster-node process (<c>dotnet cluster-node.dll run</c>, the Release build of
/// src/Node), timed from <see cref="Process.Start()"/> to the first 200 of <c>/health</c> (an Up cluster member), and for a
/// restarted follower to its persisted cursor for A reaching A's last sequence. Each node prints its own steps with
/// CLUSTER_NODE_STARTUP_TRACE=1 (src/Node/StartUpTrace.cs) and Akka logs its own (remoting, cluster); the bench
/// subtracts each from the launch to show where the time goes. The machine's reference: a hello-world console app
/// (bench/StartUpReference) and cluster-node's usage exit, launched the same way.
/// </summary>
public static class StartUp
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };

    /// <param name="Steps">Each step's time since the launch, in the order they happened.</param>
    public sealed record Launch(TimeSpan ToHealth, TimeSpan? ToCaughtUp, IReadOnlyList<(string Step, TimeSpan At)> Steps);

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string NodeDll => Path.Combine(RepositoryRoot, "src/Node/bin/Release/net10.0/cluster-node.dll");

    public static string ReferenceDll => Path.Combine(RepositoryRoot, "bench/StartUpReference/bin/Release/net10.0/StartUpReference.dll");

    /// <summary>A process that exits by itself (hello world, usage): time from launch to exit.</summary>
    public static async Task<TimeSpan> TimeToExit(string dll, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(dll);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var elapsed = clock.Elapsed;
        await Task.WhenAll(output, error);
        return elapsed;
    }

    /// <summary>One cluster-node process on its ports and data directory; started again on the same ones after a kill.</summary>
    public sealed class Node : IAsyncDisposable
    {
        private readonly List<string> _settings;
        private readonly object _linesLock = new();
        private List<(string Line, DateTimeOffset Received)> _lines = new();
        private Process? _process;
        private DateTimeOffset _launchedAt;

        public Node(string dataDirectory, int seedAkkaPort, int? akkaPort = null)
        {
            AkkaPort = akkaPort ?? seedAkkaPort;
            HttpPort = Loopback.FreePort();
            Url = new Uri($"http://127.0.0.1:{HttpPort}/");
            _settings =
            [
                $"cluster-node.data-dir = \"{dataDirectory.Replace("\\", "/")}\"",
                $"cluster-node.http.port = {HttpPort}",
                $"akka.remote.dot-netty.tcp.port = {AkkaPort}",
                $"akka.cluster.seed-nodes = [\"akka.tcp://cluster-node@127.0.0.1:{seedAkkaPort}\"]",
                "akka.loglevel = INFO", // Akka's own lines time remoting and the join
            ];
        }

        public int AkkaPort { get; }

        /// <summary>The running process's id (for its /proc entries).</summary>
        public int ProcessId => _process!.Id;
        public int HttpPort { get; }
        public Uri Url { get; }

        /// <summary>Starts the process and returns at once; the clock of <see cref="Launch"/> starts here.</summary>
        public Stopwatch Start()
        {
            var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            info.ArgumentList.Add(NodeDll);
            info.ArgumentList.Add("run");
            foreach (var setting in _settings)
            {
                info.ArgumentList.Add("--set");
                info.ArgumentList.Add(setting);
            }
            info.Environment["CLUSTER_NODE_STARTUP_TRACE"] = "1";
            lock (_linesLock) _lines = new();
            _launchedAt = DateTimeOffset.UtcNow;
            var clock = Stopwatch.StartNew();
            _process = Process.Start(info)!;
            _process.OutputDataReceived += (_, e) => Keep(e.Data);
            _process.ErrorDataReceived += (_, e) => Keep(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
            return clock;
        }

        private void Keep(string? line)
        {
            if (line is null) return;
            lock (_linesLock) _lines.Add((line, DateTimeOffset.UtcNow));
        }

        public async Task<TimeSpan> UntilHealthy(Stopwatch clock, TimeSpan limit)
        {
            while (clock.Elapsed < limit)
            {
                if (_process!.HasExited)
                    throw new InvalidOperationException($"cluster-node exited with {_process.ExitCode}: {string.Join(" | ", Lines().Where(l => l.StartsWith("cluster-node:", StringComparison.Ordinal) && !TraceLine.IsMatch(l)).TakeLast(3))}");
                try
                {
                    using var response = await Http.GetAsync(new Uri(Url, "health"));
                    if (response.StatusCode == HttpStatusCode.OK) return clock.Elapsed;
                }
                catch (HttpRequestException) { /* not listening yet */ }
                await Task.Delay(5);
            }
            throw new TimeoutException($"/health not 200 within {limit.TotalSeconds:F0} s: {string.Join(" | ", Lines().TakeLast(5))}");
        }

        public async Task<JsonElement> Status()
        {
            using var response = await Http.GetAsync(new Uri(Url, "status"));
            return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        }

        /// <summary>Polls /status until this node's persisted cursor for <paramref name="peerNodeId"/> is <paramref name="sequence"/>.</summary>
        public async Task<TimeSpan> UntilPersisted(Stopwatch clock, string peerNodeId, long sequence, TimeSpan limit)
        {
            while (clock.Elapsed < limit)
            {
                try
                {
                    var status = await Status();
                    if (status.TryGetProperty("peers", out var peers) &&
                        peers.EnumerateArray().Any(p => p.GetProperty("peer").GetString() == peerNodeId && p.GetProperty("persistedCursor").GetInt64() == sequence))
                        return clock.Elapsed;
                }
                catch (Exception e) when (e is HttpRequestException or JsonException or KeyNotFoundException or InvalidOperationException or TaskCanceledException) { /* starting */ }
                await Task.Delay(5);
            }
            throw new TimeoutException($"persisted cursor for {peerNodeId} not {sequence} within {limit.TotalSeconds:F0} s");
        }

        /// <summary>
        /// Each step the node printed (its own trace, and Akka's lines for remoting and the join), as time since the
        /// launch: a node's trace carries its wall clock, Akka's lines their event time.
        /// </summary>
        public IReadOnlyList<(string Step, TimeSpan At)> Steps()
        {
            var steps = new List<(string, TimeSpan)>();
            foreach (var line in Lines())
            {
                var trace = TraceLine.Match(line);
                if (trace.Success)
                {
                    steps.Add((trace.Groups[1].Value, DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(trace.Groups[2].Value)) - _launchedAt));
                    continue;
                }
                var akka = AkkaLine.Match(line);
                if (!akka.Success) continue;
                var step = AkkaSteps.FirstOrDefault(s => line.Contains(s.Contains, StringComparison.Ordinal)).Step;
                if (step is null || steps.Any(s => s.Item1 == step)) continue;
                var at = DateTimeOffset.ParseExact(akka.Groups[1].Value, "yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
                steps.Add((step, at - _launchedAt));
            }
            return steps.OrderBy(s => s.Item2).ToList();
        }

        /// <summary>CLUSTER_BENCH_TRACE=1: everything the node printed in its last run, on stderr, to see where a slow start went.</summary>
        public void Trace(string name)
        {
            if (Environment.GetEnvironmentVariable("CLUSTER_BENCH_TRACE") != "1") return;
            List<(string Line, DateTimeOffset Received)> lines;
            lock (_linesLock) lines = _lines.ToList();
            foreach (var (line, received) in lines) Console.Error.WriteLine($"  [{name} +{(received - _launchedAt).TotalSeconds:F2}] {line}");
        }

        private IReadOnlyList<string> Lines()
        {
            lock (_linesLock) return _lines.Select(l => l.Line).ToList();
        }

        public async Task Kill()
        {
            if (_process is null || _process.HasExited) return;
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        /// <summary>SIGTERM: the node leaves the cluster and closes LMDB.</summary>
        public async Task Stop()
        {
            if (_process is null || _process.HasExited) return;
            using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString()])) await term.WaitForExitAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try { await _process.WaitForExitAsync(timeout.Token); }
            catch (OperationCanceledException) { await Kill(); }
        }

        public async ValueTask DisposeAsync()
        {
            await Stop();
            _process?.Dispose();
        }
    }

    /// <summary>Writes one record with one blob over HTTP, as a client does; returns the sequence the node gave it.</summary>
    public static async Task PutBlob(Node node, string id, byte[] blob)
    {
        using var response = await Http.PutAsync(new Uri(node.Url, $"tables/{CatchUp.Table}/records/{id}/blobs/{CatchUp.Field}"), new ByteArrayContent(blob));
        response.EnsureSuccessStatusCode();
    }

    private static readonly Regex TraceLine = new(@"^cluster-node: start-up: (\S+) at (\d+)$");
    // Akka's events (and the actors') as the node's console log writes them (src/Node/Hosting/NodeLogging.cs): "2026-12-02T02:05:35.123Z info: Akka[0] ...".
    private static readonly Regex AkkaLine = new(@"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) \w+: ");

    private static readonly (string Step, string Contains)[] AkkaSteps =
    [
        ("remoting-starting", "Starting remoting"),
        ("remoting-bound", "Remoting started; listening"),
        ("cluster-started", "Started up successfully"),
        ("joining-itself", "is JOINING itself"),
        ("welcomed", "Welcome from"),
        ("leader-moves-up", "to [Up]"),
        ("asks-seed-to-admit", "asking it to admit this node"),
        ("subscribed", "subscribed to"),
    ];

    /// <summary>The median of each step over the runs, in order: "main 0.12, store 0.15, ...".</summary>
    public static string Breakdown(IEnumerable<Launch> runs)
    {
        var all = runs.SelectMany(r => r.Steps).GroupBy(s => s.Step)
            .Select(g => (Step: g.Key, At: g.Select(s => s.At).Order().ElementAt(g.Count() / 2)))
            .OrderBy(s => s.At);
        return string.Join(", ", all.Select(s => $"{s.Step} {s.At.TotalSeconds:F2}"));
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) return dir.FullName;
        throw new InvalidOperationException("Cluster.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>Part `startup` of the bench: lines 9r (the machine's reference), 9a, 9b and 9c.</summary>
public static class StartUpPart
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private const int Records = 1_000;
    private const int WritesWhileDown = 10;

    public static async Task Run(Table table, string root, int repeats, int blobBytes)
    {
        if (!File.Exists(StartUp.NodeDll) || !File.Exists(StartUp.ReferenceDll))
        {
            table.Add("9", $"start-up -- NOT MEASURED: build {StartUp.NodeDll} and {StartUp.ReferenceDll} in Release first (bench/run.sh does)", null, null, "", "");
            return;
        }

        // 9r: the machine's reference, launched the same way (the first run of each warms the disk cache, not counted).
        var hello = new List<TimeSpan>();
        var usage = new List<TimeSpan>();
        for (var r = -1; r < repeats; r++)
        {
            var h = await StartUp.TimeToExit(StartUp.ReferenceDll);
            var u = await StartUp.TimeToExit(StartUp.NodeDll);
            if (r < 0) continue;
            hello.Add(h);
            usage.Add(u);
        }
        var helloMedian = Stats.Median(hello, x => x);
        table.Add("9r", "start-up reference: `dotnet hello.dll` (hello world), launch to exit", helloMedian, null, "1.00 (reference)", Stats.Runs(hello));
        var usageMedian = Stats.Median(usage, x => x);
        table.Add("9r", "`dotnet cluster-node.dll` with no command (exit 2), launch to exit", usageMedian, null,
            $"time x{usageMedian / helloMedian:F1} of hello", Stats.Runs(usage));

        // 9a, 9b: one node forming its own cluster, from launch to the first 200 of /health.
        async Task Single(string label, string dataDirectory, bool freshEachRun)
        {
            var runs = new List<StartUp.Launch>();
            for (var r = -1; r < repeats; r++)
            {
                var dir = freshEachRun ? $"{dataDirectory}-{r + 1}" : dataDirectory;
                await using var node = new StartUp.Node(dir, Loopback.FreePort());
                var clock = node.Start();
                var health = await node.UntilHealthy(clock, Limit);
                await node.Stop();
                if (r >= 0) runs.Add(new StartUp.Launch(health, null, node.Steps()));
            }
            AddRow("9" + label[0], label[2..], runs.Select(x => x.ToHealth).ToList(), helloMedian);
            table.Note($"    where the time goes (median s since launch): {StartUp.Breakdown(runs)}");
        }

        try
        {
            await Single("a single node, empty data dir: launch to /health 200", Path.Combine(root, "startup-empty"), freshEachRun: true);
            var filled = Path.Combine(root, "startup-filled");
            await using (var filling = BenchNode.Start(filled))
                CatchUp.Fill(filling, 0, Records, blobBytes);
            await Single($"b single node, data dir of {Records} x 50 KiB: launch to /health 200", filled, freshEachRun: false);

            // 9c: A holds the records, B caught up; B is killed, A takes a few writes, B starts again on its data.
            var aDir = Path.Combine(root, "startup-a");
            await using (var filling = BenchNode.Start(aDir))
                CatchUp.Fill(filling, 0, Records, blobBytes);
            var seedPort = Loopback.FreePort();
            await using var a = new StartUp.Node(aDir, seedPort);
            await a.UntilHealthy(a.Start(), Limit);
            var aId = (await a.Status()).GetProperty("nodeId").GetString()!;
            await using var b = new StartUp.Node(Path.Combine(root, "startup-b"), seedPort, Loopback.FreePort());
            var first = b.Start();
            await b.UntilHealthy(first, Limit);
            await b.UntilPersisted(first, aId, (await a.Status()).GetProperty("lastSequence").GetInt64(), Limit);

            var restarts = new List<StartUp.Launch>();
            var random = new Random(7);
            for (var r = -1; r < repeats; r++)
            {
                await b.Kill();
                for (var i = 0; i < WritesWhileDown; i++)
                {
                    var blob = new byte[blobBytes];
                    random.NextBytes(blob);
                    await StartUp.PutBlob(a, $"down-{r + 1}-{i}", blob);
                }
                var lastOfA = (await a.Status()).GetProperty("lastSequence").GetInt64();
                var clock = b.Start();
                // Both polled from the launch on: B catches up while it is still being admitted, before /health is 200.
                var healthy = b.UntilHealthy(clock, Limit);
                var persisted = b.UntilPersisted(clock, aId, lastOfA, Limit);
                var (health, caughtUp) = (await healthy, await persisted);
                if (r >= 0) restarts.Add(new StartUp.Launch(health, caughtUp, [.. b.Steps(), ("health-200", health), ("caught-up", caughtUp)]));
                b.Trace($"B restart {r + 1}");
            }
            a.Trace("A"); // A's side of the restarts: the new incarnation's joins, the old one downed and removed
            AddRow("9c", $"B (follower of A's {Records} x 50 KiB) SIGKILLed, {WritesWhileDown} writes to A, B restarted: launch to /health 200",
                restarts.Select(x => x.ToHealth).ToList(), helloMedian);
            AddRow("9c", "  ... and to B's persisted cursor for A = A's last sequence (caught up)",
                restarts.Select(x => x.ToCaughtUp!.Value).ToList(), helloMedian);
            table.Note($"    where the time goes (median s since launch): {StartUp.Breakdown(restarts)}");
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or HttpRequestException)
        {
            table.Add("9", $"start-up -- FAILED: {e.Message}", null, null, "", "");
        }

        void AddRow(string id, string label, List<TimeSpan> runs, TimeSpan reference)
        {
            var median = Stats.Median(runs, x => x);
            table.Add(id, label, median, null, $"time x{median / reference:F1} of hello", Stats.Runs(runs));
        }
    }
}
