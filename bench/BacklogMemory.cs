using System.Diagnostics;
using ClusterNode.Tests.Support;

namespace ClusterNode.Bench;

/// <summary>
/// Line 10: the follower's memory against the size of its backlog, on real processes. A holds 2 GB of records with a
/// 50 KiB blob each; an empty B (its own process) catches up; B's resident set is sampled from /proc every 50 ms, and
/// the kernel's own high-water mark (VmHWM) is read at the end. The goal: under 300 MB whatever the backlog.
/// </summary>
public static class BacklogMemory
{
    private const int Records = 40_000;
    private const long GoalBytes = 300L << 20;
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);

    public static async Task Run(Table table, string root, int blobBytes)
    {
        var label = $"follower B's resident memory catching up {Records:N0} x 50 KiB ({Records * (long)blobBytes / 1e9:F2} GB), real processes";
        if (!OperatingSystem.IsLinux() || !File.Exists(StartUp.NodeDll))
        {
            table.Add("10", label + " -- NOT MEASURED: needs Linux's /proc and the Release node (bench/run.sh builds it)", null, null, "", "");
            return;
        }
        var aDir = Path.Combine(root, "backlog-a");
        await using (var filling = BenchNode.Start(aDir))
            CatchUp.Fill(filling, 0, Records, blobBytes);
        try
        {
            var seedPort = Loopback.FreePort();
            await using var a = new StartUp.Node(aDir, seedPort);
            await a.UntilHealthy(a.Start(), TimeSpan.FromSeconds(60));
            var aId = (await a.Status()).GetProperty("nodeId").GetString()!;
            var lastOfA = (await a.Status()).GetProperty("lastSequence").GetInt64();
            await using var b = new StartUp.Node(Path.Combine(root, "backlog-b"), seedPort, Loopback.FreePort());
            var clock = b.Start();
            await b.UntilHealthy(clock, TimeSpan.FromSeconds(60));
            var atHealth = ResidentBytes(b.ProcessId, "VmRSS");
            var sampledPeak = atHealth;
            using var sampling = new CancellationTokenSource();
            var sampler = Task.Run(async () =>
            {
                while (!sampling.IsCancellationRequested)
                {
                    sampledPeak = Math.Max(sampledPeak, ResidentBytes(b.ProcessId, "VmRSS"));
                    try { await Task.Delay(50, sampling.Token); } catch (OperationCanceledException) { }
                }
            });
            var caughtUp = await b.UntilPersisted(clock, aId, lastOfA, Limit);
            var highWater = ResidentBytes(b.ProcessId, "VmHWM");
            sampling.Cancel();
            await sampler;
            var peak = Math.Max(highWater, sampledPeak);
            var mbps = Records * (double)blobBytes / 1e6 / caughtUp.TotalSeconds;
            table.Add("10", label + ": peak resident set (VmHWM)", caughtUp, mbps,
                $"{peak / (double)(1 << 20):F0} MiB = x{peak / (double)GoalBytes:F2} of 300 MiB", $"{caughtUp.TotalSeconds:F1}");
            table.Note($"    note: B's resident set when /health first answered 200: {atHealth / (double)(1 << 20):F0} MiB; time and MB/s are from B's launch to caught up");
        }
        catch (Exception e) when (e is TimeoutException or InvalidOperationException or HttpRequestException)
        {
            table.Add("10", label + $" -- FAILED: {e.Message}", null, null, "", "");
        }
    }

    /// <summary>A line of /proc/PID/status in bytes (the kernel writes kB).</summary>
    private static long ResidentBytes(int processId, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{processId}/status"))
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                    return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0]) * 1024;
        }
        catch (IOException) { /* the process is gone */ }
        return 0;
    }
}
