// cluster-node's bench: measures the machine's own limits and cluster-node against them, all in one run, and prints
// one table. `dotnet ClusterNode.Bench.dll [disk] [catchup] [scrub] [repair] [flow] [tls] [ingest] [smallcatchup] [startup] [backlog]` runs the named parts (all when none is named);
// bench/run.sh builds Release and runs it.
using System.Diagnostics;
using System.Runtime;
using ClusterNode.Bench;
using ClusterNode.Bench.FlowControl;

const int blobBytes = 50 * 1024;
const int diskBlobs = 1_000;
const int repeats = 3;
const int diskRepeats = 5;  // a disk or flow run takes about a second or less: more runs for a steadier median
const int flowRepeats = 7;
const int flowMessages = 2_000;
const int flowMessageBytes = 64 * 1024;
const long windowBytes = 8L << 20;
var catchUpLimit = TimeSpan.FromSeconds(120);

var parts = args.Length == 0 ? new HashSet<string> { "disk", "catchup", "scrub", "repair", "flow", "tls", "ingest", "smallcatchup", "startup", "backlog" } : args.ToHashSet(StringComparer.OrdinalIgnoreCase);
var table = new Table();
var root = Path.Combine(Path.GetTempPath(), $"cluster-node-bench-{Guid.NewGuid():N}");
Directory.CreateDirectory(root);
var total = Stopwatch.StartNew();

Console.WriteLine($"cluster-node bench: {Environment.ProcessorCount} cores, .NET {Environment.Version}, " +
                  $"{(GCSettings.IsServerGC ? "server" : "workstation")} GC, temp {root}");
Console.WriteLine("every number below was measured in this run; MB = 10^6 bytes; time and MB/s are medians of the runs listed");
Console.WriteLine();

try
{
    // ------------------------------------------------------------------ 1. the disk's limit for durable blobs
    double? diskMBps = null;
    double? batchedDiskMBps = null;
    if (parts.Contains("disk") || parts.Contains("catchup") || parts.Contains("repair"))
    {
        DiskLimit.Result MeasureDisk(int syncfsBatch)
        {
            var runs = new List<DiskLimit.Result>();
            for (var r = 0; r < diskRepeats; r++)
            {
                var dir = Path.Combine(root, $"disk-{syncfsBatch}-{r}");
                runs.Add(DiskLimit.Measure(dir, diskBlobs, blobBytes, syncfsBatch));
                Directory.Delete(dir, recursive: true);
            }
            var median = Stats.Median(runs, x => x.Elapsed);
            var label = syncfsBatch == 0
                ? $"disk limit: {diskBlobs} blobs x 50 KiB, each fsync + rename + dir fsync"
                : $"disk limit: {diskBlobs} blobs x 50 KiB, per {syncfsBatch}: one syncfs, renames, one dir fsync";
            table.Add(syncfsBatch == 0 ? "1" : "1b", label, median.Elapsed, median.MegabytesPerSecond,
                syncfsBatch == 0 ? "1.00 (the limit)" : $"{median.MegabytesPerSecond / diskMBps!.Value:F2} of 1 (limit 1b)", Stats.Runs(runs.Select(x => x.Elapsed)));
            return median;
        }
        diskMBps = MeasureDisk(0).MegabytesPerSecond;
        if (OperatingSystem.IsLinux()) batchedDiskMBps = MeasureDisk(64).MegabytesPerSecond;
    }

    // ------------------------------------------------------------------ 2. cluster-node catch-up
    if (parts.Contains("catchup"))
    {
        var heapRows = new List<(int Records, CatchUp.Result Run)>();

        async Task CatchUpCase(string name, int records, int runsWanted, int fillFrom = 0, bool warmUp = false)
        {
            var aDir = Path.Combine(root, name);
            var last = 0L;
            await using (var filling = BenchNode.Start(aDir))
                last = CatchUp.Fill(filling, fillFrom, records, blobBytes);
            var runs = new List<CatchUp.Result>();
            for (var r = warmUp ? -1 : 0; r < runsWanted; r++)
            {
                // A restarts on its directory for each run, so no state of the previous follower is left in it.
                await using var a = BenchNode.Start(aDir);
                var bDir = Path.Combine(root, $"{name}-b{r}");
                var result = await CatchUp.Run(a, bDir, records, blobBytes, catchUpLimit);
                Directory.Delete(bDir, recursive: true);
                if (r >= 0) runs.Add(result); // run -1 only warms up the JIT and the loopback; not counted
            }
            var failed = runs.FirstOrDefault(x => !x.Converged);
            var median = Stats.Median(runs, x => x.Elapsed);
            var label = $"catch-up {records,5} x 50 KiB, A -> empty B, until B's persisted cursor = {last}";
            if (failed is not null)
                table.Add("2", label + $" -- DID NOT CONVERGE in {catchUpLimit.TotalSeconds:F0} s: {failed.LastProblem}", null, null, "", "");
            else
                table.Add("2", label, median.Elapsed, median.MegabytesPerSecond,
                    (batchedDiskMBps is { } b ? $"{median.MegabytesPerSecond / b:F2} of 1b, " : "") +
                    (diskMBps is { } d ? $"{median.MegabytesPerSecond / d:F2} of 1" : ""), Stats.Runs(runs.Select(x => x.Elapsed)));
            var resubscribed = runs.Where(x => x.Resubscriptions > 1).ToList();
            if (resubscribed.Count > 0)
                table.Note($"    note: B re-subscribed in {resubscribed.Count} run(s); last problem: {resubscribed[^1].LastProblem}");
            heapRows.Add((records, runs.MaxBy(x => x.HeapMaxBytes)!));
        }

        await CatchUpCase("a80", 80, repeats, warmUp: true);
        await CatchUpCase("a1000", 1_000, repeats);
        // The same A grows to 3,000 records: the memory check needs a backlog three times larger.
        await CatchUpCase("a1000", 3_000, 1, fillFrom: 1_000);

        var baseline = heapRows.First(h => h.Records == 1_000).Run;
        foreach (var (records, run) in heapRows.Where(h => h.Records >= 1_000))
        {
            table.Add("2m", $"managed heap, {records,5}-record backlog (A and B share the process): max while polling", null, null,
                $"{(double)run.HeapMaxBytes / baseline.HeapMaxBytes:F2} of 1000's",
                $"max {Stats.MiB(run.HeapMaxBytes)} (before connect {Stats.MiB(run.HeapBeforeBytes)}, after catch-up + forced GC {Stats.MiB(run.HeapAfterBytes)})");
        }
    }

    // ------------------------------------------------------------------ 3. flow control over Akka.Remote
    if (parts.Contains("flow"))
    {
        var payload = new byte[flowMessageBytes];
        new Random(7).NextBytes(payload);
        var megabytes = (double)flowMessages * flowMessageBytes / 1e6;
        var windowMessages = (int)(windowBytes / flowMessageBytes);

        double? creditMBps = null;

        // One mechanism on a fresh pair of systems: a warm-up (JIT, association, buffers; not counted), then the runs.
        async Task Flow(string id, string label, string hocon, Func<RemotePair, int, Task<TimeSpan>> run, bool reference = false)
        {
            try
            {
                await using var pair = RemotePair.Start(hocon);
                await run(pair, 200);
                var runs = new List<TimeSpan>();
                for (var r = 0; r < flowRepeats; r++) runs.Add(await run(pair, flowMessages));
                var median = Stats.Median(runs, x => x);
                var mbps = megabytes / median.TotalSeconds;
                if (reference) creditMBps = mbps;
                table.Add(id, label, median, mbps, reference ? "1.00 (reference)" : creditMBps is { } c ? $"{mbps / c:F2} of 3a" : "", Stats.Runs(runs));
                // Read before the pair shuts down: a disassociation logged then is no error of the runs.
                if (!pair.Errors.IsEmpty)
                    table.Note($"    note: Akka logged {pair.Errors.Count} error(s) during {id}; first: {pair.Errors.First()}");
            }
            catch (Exception e)
            {
                table.Add(id, $"{label} -- FAILED: {e.GetType().Name}: {e.Message}", null, null, "", "");
            }
        }

        var header = $"{flowMessages} x 64 KiB byte[] over Akka.Remote loopback";
        await Flow("3a", "credit window 8 MiB, hand-written (cumulative handled bytes per message)", "",
            (p, n) => CreditWindow.Run(p, payload, n, windowBytes), reference: true);
        await Flow("3a", "credit window 2 MiB, hand-written (the same, a quarter of the window)", "",
            (p, n) => CreditWindow.Run(p, payload, n, windowBytes / 4));
        await Flow("3b", $"StreamRefs SourceRef, buffer-capacity {windowMessages} elements (8 MiB)",
            $"akka.stream.materializer.stream-ref.buffer-capacity = {windowMessages}", (p, n) => StreamRefsFlow.Run(p, payload, n));
        await Flow("3b", "StreamRefs SourceRef, default buffer-capacity 32 elements (2 MiB)", "",
            (p, n) => StreamRefsFlow.Run(p, payload, n));
        await Flow("3c", $"Akka.Delivery point-to-point, flow-control-window {windowMessages} msgs (8 MiB)", "",
            (p, n) => DeliveryFlow.Run(p, payload, n, windowMessages));
        await Flow("3c", "Akka.Delivery point-to-point, default flow-control-window 50 msgs (3.2 MiB)", "",
            (p, n) => DeliveryFlow.Run(p, payload, n, 50));
        table.Note($"    (3: {header}, {megabytes:F0} MB per run, after a 200-message warm-up" +
                   (creditMBps is { } credit && diskMBps is { } disk ? $"; 3a moves {credit / disk:F1}x the disk limit of line 1)" : ")"));
    }

    // ------------------------------------------------------------------ 5. repair of lost blob files from a peer
    if (parts.Contains("repair"))
    {
        foreach (var (records, sizeBytes, name) in new[] { (1_000, blobBytes, "50 KiB"), (50, 4 << 20, "4 MiB") })
        {
            var aDir = Path.Combine(root, $"repair-a-{records}");
            await using (var filling = BenchNode.Start(aDir))
                CatchUp.Fill(filling, 0, records, sizeBytes);
            var runs = new List<RepairCost.Result>();
            for (var r = 0; r < repeats; r++)
            {
                await using var a = BenchNode.Start(aDir);
                var bDir = Path.Combine(root, $"repair-b-{records}-{r}");
                runs.Add(await RepairCost.Run(a, bDir, records, sizeBytes, catchUpLimit));
                Directory.Delete(bDir, recursive: true);
            }
            var label = $"repair: {records} x {name} blob files deleted on B, fetched back from A (sha256 checked, fsync each)";
            if (runs.FirstOrDefault(x => !x.Repaired) is not null)
                table.Add("5", label + $" -- NOT REPAIRED in {catchUpLimit.TotalSeconds:F0} s", null, null, "", "");
            else
            {
                var median = Stats.Median(runs, x => x.Elapsed);
                table.Add("5", label, median.Elapsed, median.MegabytesPerSecond,
                    diskMBps is { } d ? $"{median.MegabytesPerSecond / d:F2} of 1" : "", Stats.Runs(runs.Select(x => x.Elapsed)));
            }
        }
    }

    // ------------------------------------------------------------------ 4. the blob scrub
    if (parts.Contains("scrub"))
    {
        const int records = 1_000;
        var aDir = Path.Combine(root, "scrub-a");
        await using (var filling = BenchNode.Start(aDir))
            CatchUp.Fill(filling, 0, records, blobBytes);

        // 4: the limit, on the files the scrub reads (in the page cache, as they are just written; the first run warms).
        var raw = new List<ScrubCost.Result>();
        for (var r = -1; r < diskRepeats; r++)
        {
            var run = ScrubCost.ReadAndHash(Path.Combine(aDir, "blobs"));
            if (r >= 0) raw.Add(run);
        }
        var rawMedian = Stats.Median(raw, x => x.Elapsed);
        table.Add("4", $"read + SHA-256 of {records} blob files x 50 KiB, one after another, 1 MiB reads (this machine's limit)",
            rawMedian.Elapsed, rawMedian.MegabytesPerSecond, "1.00 (the limit)", Stats.Runs(raw.Select(x => x.Elapsed)));

        // 4a: the scrub itself at an unlimited rate, each pass timed by the scrub (listing, walking the records, hashing).
        var passes = await ScrubCost.Passes(aDir, diskRepeats, TimeSpan.FromSeconds(60));
        const string passLabel = "scrub pass over the same blobs at an unlimited rate (listing, record walk, 1 MiB steps)";
        if (passes.Count == 0)
            table.Add("4a", passLabel + " -- FAILED: no pass ended within 60 s", null, null, "", "");
        else
        {
            var passMedian = Stats.Median(passes, x => x.Elapsed);
            table.Add("4a", passLabel, passMedian.Elapsed, passMedian.MegabytesPerSecond,
                $"{passMedian.MegabytesPerSecond / rawMedian.MegabytesPerSecond:F2} of 4", Stats.Runs(passes.Select(x => x.Elapsed)));
        }

        // 4b: catch-up of an empty follower, without and then with a scrub running on A and B at the default rate; runs
        // alternate so that a drift of the machine touches both alike. The first pair warms up and is not counted; more
        // runs than line 2, as the difference sought is smaller than the spread of single runs.
        var without = new List<CatchUp.Result>();
        var with = new List<CatchUp.Result>();
        for (var r = -1; r < diskRepeats; r++)
        {
            foreach (var scrubbing in new[] { false, true })
            {
                var hocon = scrubbing ? ScrubCost.RunningAtDefaultRate : "";
                await using var a = BenchNode.Start(aDir, hocon);
                var bDir = Path.Combine(root, $"scrub-b-{r}-{scrubbing}");
                var result = await CatchUp.Run(a, bDir, records, blobBytes, catchUpLimit, hocon);
                if (scrubbing) result = result with { FollowerScrubBytes = result.FollowerScrubBytes + (await a.ScrubStatusAsync()).BytesHashed };
                Directory.Delete(bDir, recursive: true);
                if (r >= 0) (scrubbing ? with : without).Add(result);
            }
        }
        var withoutMedian = Stats.Median(without, x => x.Elapsed);
        var withMedian = Stats.Median(with, x => x.Elapsed);
        var label = $"catch-up {records} x 50 KiB, A -> empty B";
        if (without.Concat(with).FirstOrDefault(x => !x.Converged) is { } failed)
            table.Add("4b", label + $" -- DID NOT CONVERGE in {catchUpLimit.TotalSeconds:F0} s: {failed.LastProblem}", null, null, "", "");
        else
        {
            table.Add("4b", label + ", no scrub", withoutMedian.Elapsed, withoutMedian.MegabytesPerSecond, "1.00 (reference)", Stats.Runs(without.Select(x => x.Elapsed)));
            table.Add("4b", label + ", scrub running on A and B at the default 64 MiB/s", withMedian.Elapsed, withMedian.MegabytesPerSecond,
                $"time x{withMedian.Elapsed / withoutMedian.Elapsed:F2} of no scrub", Stats.Runs(with.Select(x => x.Elapsed)));
            // Each run with scrub against the run without it just before: a drift of the machine cancels out.
            var pairs = without.Zip(with, (off, on) => on.Elapsed / off.Elapsed).Order().ToList();
            table.Note($"    note: time with scrub / time without, per alternating pair: median x{pairs[pairs.Count / 2]:F2} " +
                       $"(pairs {string.Join(" / ", pairs.Select(p => p.ToString("F2")))})");
            var scrubbed = with.Sum(x => x.FollowerScrubBytes);
            // From each node's start to the end of its catch-up run: A starts a little before B connects.
            table.Note($"    note: with scrub, A's and B's scrubs hashed {scrubbed / 1e6 / with.Count:F0} MB per run on average, from their start to B's catch-up");
        }
    }

    // ------------------------------------------------------------------ 6. the cost of mutual TLS on catch-up
    if (parts.Contains("tls"))
    {
        const int records = 1_000;
        var aDir = Path.Combine(root, "tls-a");
        await using (var filling = BenchNode.Start(aDir))
            CatchUp.Fill(filling, 0, records, blobBytes);
        var (aTls, bTls) = TlsCost.Settings(Path.Combine(root, "tls-certs"));
        // Plaintext and TLS runs alternate, as in 4b, so a drift of the machine touches both alike; the first pair warms up.
        var plain = new List<CatchUp.Result>();
        var secured = new List<CatchUp.Result>();
        for (var r = -1; r < diskRepeats; r++)
        {
            foreach (var tls in new[] { false, true })
            {
                await using var a = BenchNode.Start(aDir, tls ? aTls : "");
                var bDir = Path.Combine(root, $"tls-b-{r}-{tls}");
                var result = await CatchUp.Run(a, bDir, records, blobBytes, catchUpLimit, tls ? bTls : "");
                Directory.Delete(bDir, recursive: true);
                if (r >= 0) (tls ? secured : plain).Add(result);
            }
        }
        var label = $"catch-up {records} x 50 KiB, A -> empty B";
        if (plain.Concat(secured).FirstOrDefault(x => !x.Converged) is { } failed)
            table.Add("6", label + $" -- DID NOT CONVERGE in {catchUpLimit.TotalSeconds:F0} s: {failed.LastProblem}", null, null, "", "");
        else
        {
            var plainMedian = Stats.Median(plain, x => x.Elapsed);
            var securedMedian = Stats.Median(secured, x => x.Elapsed);
            table.Add("6", label + ", plaintext Akka.Remote", plainMedian.Elapsed, plainMedian.MegabytesPerSecond, "1.00 (reference)", Stats.Runs(plain.Select(x => x.Elapsed)));
            table.Add("6", label + ", mutual TLS (ECDSA P-256 certificates of one cluster CA)", securedMedian.Elapsed, securedMedian.MegabytesPerSecond,
                $"time x{securedMedian.Elapsed / plainMedian.Elapsed:F2} of plaintext", Stats.Runs(secured.Select(x => x.Elapsed)));
            var pairs = plain.Zip(secured, (off, on) => on.Elapsed / off.Elapsed).Order().ToList();
            table.Note($"    note: time with TLS / time without, per alternating pair: median x{pairs[pairs.Count / 2]:F2} " +
                       $"(pairs {string.Join(" / ", pairs.Select(p => p.ToString("F2")))})");
        }
    }

    // ------------------------------------------------------------------ 7. the write path: ingest over HTTP
    if (parts.Contains("ingest"))
        await WriteIngestPart.Run(table, root, diskMBps, repeats);

    // ------------------------------------------------------------------ 8. small records caught up by a follower
    if (parts.Contains("smallcatchup")) await SmallCatchUp.Measure(table, root, catchUpLimit);

    // ------------------------------------------------------------------ 9. start-up of the real process
    if (parts.Contains("startup")) await StartUpPart.Run(table, root, repeats: 5, blobBytes);

    // ------------------------------------------------------------------ 10. the follower's memory for a 2 GB backlog
    if (parts.Contains("backlog")) await BacklogMemory.Run(table, root, blobBytes);
}
finally
{
    try { Directory.Delete(root, recursive: true); } catch (IOException) { }
}

table.Print();
Console.WriteLine();
Console.WriteLine($"bench took {total.Elapsed.TotalSeconds:F0} s");
