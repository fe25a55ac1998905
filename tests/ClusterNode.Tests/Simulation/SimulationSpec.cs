using System.Collections.Concurrent;
using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Simulation;

/// <summary>
/// Runs the deterministic simulation of replication over many seeds: 1,000 in the default suite, 100,000 with
/// CLUSTER_SOAK=1, and exactly FIRST to FIRST+COUNT-1 with CLUSTER_SIM_SEEDS=FIRST:COUNT (to replay a failure).
/// Each seed is a whole run: its cluster size, workload and faults are drawn from it.
/// </summary>
public sealed class SimulationSpec(ITestOutputHelper output)
{
    [Fact]
    public void Simulation_keeps_the_cursor_behind_every_missing_record_and_blob_and_converges_under_every_fault()
    {
        var (first, count) = Seeds();
        output.WriteLine($"simulating seeds {first} to {first + count - 1} (replay one: CLUSTER_SIM_SEEDS=SEED:1 dotnet test --filter FullyQualifiedName~Simulation)");
        var failures = new ConcurrentBag<(int Seed, string Violation, string Trace)>();
        long steps = 0;
        var counts = new ConcurrentDictionary<string, long>();
        var clock = Stopwatch.StartNew();
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            var seed = first + i;
            var simulation = new Simulation(seed);
            try
            {
                simulation.Run();
            }
            catch (Exception e)
            {
                failures.Add((seed, $"threw {e}", simulation.RecentTrace));
                return;
            }
            Interlocked.Add(ref steps, simulation.Steps);
            foreach (var (what, n) in simulation.Counts) counts.AddOrUpdate(what, n, (_, total) => total + n);
            if (simulation.Violation is { } violation) failures.Add((seed, violation, simulation.RecentTrace));
        });
        output.WriteLine($"{count} seeds, {steps} steps in {clock.Elapsed.TotalSeconds:F1} s; over all seeds:");
        foreach (var (what, n) in counts.OrderBy(c => c.Key)) output.WriteLine($"  {n,9} {what}");
        if (failures.IsEmpty) return;
        var firstFailure = failures.OrderBy(f => f.Seed).First();
        // One line per kind of violation (its first line with the numbers taken out), with the seeds that show it.
        var kinds = failures.GroupBy(f => System.Text.RegularExpressions.Regex.Replace(f.Violation.Split('\n')[0], @"\d+", "#"))
            .Select(g => $"  {g.Count()} x {g.Key} (seeds {string.Join(", ", g.Select(f => f.Seed).Order().Take(5))})");
        Assert.Fail($"{failures.Count} of {count} seeds failed: {string.Join(", ", failures.Select(f => f.Seed).Order().Take(20))}\n" +
                    string.Join('\n', kinds) + "\n" +
                    $"seed {firstFailure.Seed}: {firstFailure.Violation}\nlast steps:\n{firstFailure.Trace}");
    }

    private static (int First, int Count) Seeds()
    {
        var chosen = Environment.GetEnvironmentVariable("CLUSTER_SIM_SEEDS");
        if (!string.IsNullOrEmpty(chosen))
        {
            var parts = chosen.Split(':');
            if (parts.Length != 2 || !int.TryParse(parts[0], out var first) || !int.TryParse(parts[1], out var count) || count < 1)
                throw new ArgumentException($"CLUSTER_SIM_SEEDS must be FIRST:COUNT (e.g. 1:1000), not '{chosen}'");
            return (first, count);
        }
        return Environment.GetEnvironmentVariable("CLUSTER_SOAK") == "1" ? (1, 100_000) : (1, 1_000);
    }
}
