using System.Diagnostics;
using Akka.Actor;
using ClusterNode.Actors.Replication;
using ClusterNode.Actors.Serialization;
using ClusterNode.Actors.Streams;
using ClusterNode.Actors.Watermarks;
using ClusterNode.Persistence.Records;
using LightningDB;

namespace ClusterNode.Bench;

/// <summary>
/// Measurement 7: catch-up of small records (~200 B of JSON, no blobs), where the per-record costs of the pipeline
/// show rather than the disk's bandwidth. Node A holds the records; an empty B connects; the clock stops when B's
/// persisted cursor for A equals A's last sequence (as line 2). The limit is this machine's LMDB taking the same
/// records in batched transactions, one sync each. A breakdown runs each stage of the path alone, in this thread, over
/// the same records, so the time of each is known; the managed heap is sampled as line 2m does.
/// </summary>
public static class SmallCatchUp
{
    private const string Table = "small";
    private const int Records = 100_000;
    private const int LargeRecords = 1_000_000;
    private const int LimitBatch = 1_000;
    private const int Runs = 3;


    public static async Task Measure(Table table, string root, TimeSpan limit)
    {
        var aDir = Path.Combine(root, "small-a");
        long last;
        await using (var filling = BenchNode.Start(aDir))
            last = Fill(filling.Store, 0, Records);

        // 7: the limit, the breakdown, then the catch-up runs, all on the same records.
        var limitRuns = new List<TimeSpan>();
        for (var r = 0; r < Runs; r++) limitRuns.Add(LmdbLimit(Path.Combine(root, $"small-limit-{r}"), aDir));
        var limitTime = limitRuns.Order().ElementAt(Runs / 2);
        var limitRate = Records / limitTime.TotalSeconds;
        table.Add("8", $"LMDB limit: {Records} records x ~200 B, {LimitBatch} per transaction (record + audit put), one sync each",
            limitTime, Records * (double)RecordBytes / 1e6 / limitTime.TotalSeconds, $"{limitRate / 1000:F0}k rec/s (the limit)", Stats.Runs(limitRuns));

        await using (var a = BenchNode.Start(aDir))
        {
            foreach (var (stage, elapsed, allocated, note) in Breakdown(a, Path.Combine(root, "small-breakdown")))
                table.Add("8s", $"  stage alone, {Records} records: {stage}", elapsed, null,
                    $"{Records / elapsed.TotalSeconds / 1000:F0}k rec/s", $"{allocated / Records} B allocated per record; {note}");
        }

        var runs = new List<CatchUp.Result>();
        for (var r = -1; r < Runs; r++)
        {
            await using var a = BenchNode.Start(aDir);
            var bDir = Path.Combine(root, $"small-b{r}");
            var result = await Run(a, bDir, Records, limit);
            Directory.Delete(bDir, recursive: true);
            if (r >= 0) runs.Add(result); // run -1 warms up the JIT and the loopback
            if (r >= 0) table.Note($"    note: run {r}: {LastRunProfile}");
        }
        var label = $"catch-up {Records} records x ~200 B, no blobs, A -> empty B, until B's persisted cursor = {last}";
        var small = AddCatchUpRow(table, label, runs, limitRate, limit);

        // 8f: the same with other frame sizes than the default: below 85,000 bytes a frame stays off the large-object heap
        // (collected only with gen2); above, fewer and larger messages.
        foreach (var frameSize in new[] { "64 KiB", "128 KiB", "512 KiB" })
        {
            var hocon = $"cluster-node.replication.frame-size = {frameSize}";
            var sized = new List<CatchUp.Result>();
            for (var r = 0; r < Runs; r++)
            {
                await using var a = BenchNode.Start(aDir, hocon);
                var bDir = Path.Combine(root, $"small-f{r}");
                sized.Add(await Run(a, bDir, Records, limit, hocon));
                Directory.Delete(bDir, recursive: true);
                table.Note($"    note: frame-size {frameSize}, run {r}: {LastRunProfile}");
            }
            AddCatchUpRow(table, $"  the same with replication.frame-size = {frameSize}", sized, limitRate, limit, "8f");
        }

        // 8m: the heap for a backlog ten times larger, filled onto the same A.
        await using (var filling = BenchNode.Start(aDir))
            last = Fill(filling.Store, Records, LargeRecords);
        CatchUp.Result large;
        await using (var a = BenchNode.Start(aDir))
        {
            var bDir = Path.Combine(root, "small-b-large");
            large = await Run(a, bDir, LargeRecords, limit * 4);
            Directory.Delete(bDir, recursive: true);
        }
        table.Note($"    note: {LargeRecords} records: {LastRunProfile}");
        AddCatchUpRow(table, $"catch-up {LargeRecords} records x ~200 B, no blobs, until B's persisted cursor = {last}", [large], limitRate, limit * 4);
        if (small is not null)
        {
            foreach (var (records, run) in new[] { (Records, small), (LargeRecords, large) })
                table.Add("8m", $"managed heap, {records,7}-record small backlog (A and B share the process): max while polling", null, null,
                    $"{(double)run.HeapMaxBytes / small.HeapMaxBytes:F2} of {Records}'s",
                    $"max {Stats.MiB(run.HeapMaxBytes)} (before connect {Stats.MiB(run.HeapBeforeBytes)}, after catch-up + forced GC {Stats.MiB(run.HeapAfterBytes)})");
        }
    }

    private static CatchUp.Result? AddCatchUpRow(Table table, string label, List<CatchUp.Result> runs, double limitRate, TimeSpan limit, string id = "8")
    {
        if (runs.FirstOrDefault(x => !x.Converged) is { } failed)
        {
            table.Add(id, label + $" -- DID NOT CONVERGE in {limit.TotalSeconds:F0} s: {failed.LastProblem}", null, null, "", "");
            return null;
        }
        var median = Stats.Median(runs, x => x.Elapsed);
        var rate = median.Records / median.Elapsed.TotalSeconds;
        table.Add(id, label, median.Elapsed, median.MegabytesPerSecond, $"{rate / 1000:F0}k rec/s, {rate / limitRate:F2} of limit",
            Stats.Runs(runs.Select(x => x.Elapsed)));
        var resubscribed = runs.Where(x => x.Resubscriptions > 1).ToList();
        if (resubscribed.Count > 0)
            table.Note($"    note: B re-subscribed in {resubscribed.Count} run(s); last problem: {resubscribed[^1].LastProblem}");
        return median;
    }

    /// <summary>
    /// <see cref="CatchUp.Run"/> over records without blobs (MB/s counts their JSON), noting where the process's CPU,
    /// collections and allocation went while the clock ran.
    /// </summary>
    private static Task<CatchUp.Result> Run(BenchNode a, string followerDirectory, int records, TimeSpan limit, string followerHocon = "")
    {
        var cpuBefore = TimeSpan.Zero;
        (int Gen0, int Gen1, int Gen2, TimeSpan Paused, long Allocated) gcBefore = default;
        return CatchUp.Run(a, followerDirectory, records, RecordBytes, limit, followerHocon,
            atClockStart: () =>
            {
                cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
                gcBefore = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration(), GC.GetTotalAllocatedBytes());
            },
            atClockStop: elapsed =>
            {
                var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
                LastRunProfile = $"process CPU {cpu.TotalSeconds:F2} s in {elapsed.TotalSeconds:F2} s; GCs gen0/1/2 {GC.CollectionCount(0) - gcBefore.Gen0}/" +
                    $"{GC.CollectionCount(1) - gcBefore.Gen1}/{GC.CollectionCount(2) - gcBefore.Gen2}, paused {(GC.GetTotalPauseDuration() - gcBefore.Paused).TotalSeconds:F2} s, " +
                    $"allocated {(GC.GetTotalAllocatedBytes() - gcBefore.Allocated) / 1e6 / records * 1e6:F0} B per record";
            });
    }

    /// <summary>Where the last run's time went, as the process sees it (both nodes share it): CPU, collections, allocation.</summary>
    private static string LastRunProfile = "";

    /// <summary>The JSON of record i: about <see cref="RecordBytes"/> bytes, the same every time.</summary>
    private static byte[] Json(int index) => System.Text.Encoding.UTF8.GetBytes(
        $$"""{"id":"r{{index:D7}}","name":"customer {{index % 9973}}","email":"user{{index}}@example.com","balance":{{index * 37 % 100000}}.25,"tags":["alpha","beta","gamma"],"note":"lorem ipsum dolor sit amet, consectetur adipiscing elit sed do eiusmod tempor"}""");

    /// <summary>The data of a record in the middle of the range: what MB/s counts per record.</summary>
    private static readonly int RecordBytes = Json(Records / 2).Length;

    /// <summary>
    /// Adds records to A as A's own writes (origin A, so B does not stream them back), a thousand per transaction through
    /// the replicated path: fast to fill, and each lands in A's audit log like any write.
    /// </summary>
    private static long Fill(RecordStore store, int fromIndex, int toIndex)
    {
        for (var start = fromIndex; start < toIndex; start += LimitBatch)
        {
            var batch = new List<StoredRecord>(LimitBatch);
            for (var i = start; i < Math.Min(toIndex, start + LimitBatch); i++)
                batch.Add(new StoredRecord(Table, $"r{i:D7}", new RecordVersion(store.Clock.Next(), store.NodeId), false, Json(i), []));
            store.ApplyReplicated(batch);
        }
        return store.LastSequence;
    }

    /// <summary>The records of A, read once (not timed) for the limit.</summary>
    private static List<StoredRecord> ReadAll(string aDir)
    {
        var records = new List<StoredRecord>(Records);
        var settings = ReplicationSettings.Create(Akka.Configuration.ConfigurationFactory.ParseString($"cluster-node.data-dir = \"{aDir.Replace("\\", "/")}\""));
        using var store = RecordStore.Open(settings.Store);
        byte[]? after = null;
        while (records.Count < Records)
        {
            var page = store.Scan(after, 4096, Table);
            if (page.Count == 0) break;
            records.AddRange(page);
            after = RecordCodec.Key(page[^1].Table, page[^1].Id);
        }
        return records.Take(Records).ToList();
    }

    /// <summary>The same records put into a fresh LMDB environment, record and audit entry, a batch per transaction.</summary>
    private static TimeSpan LmdbLimit(string directory, string aDir)
    {
        var records = ReadAll(aDir);
        var encoded = records.Select(r => (Key: RecordCodec.Key(r.Table, r.Id), Value: RecordCodec.EncodeValue(r))).ToList();
        Directory.CreateDirectory(directory);
        try
        {
            using var environment = new LightningEnvironment(directory, new EnvironmentConfiguration { MapSize = 1L << 30, MaxDatabases = 4 });
            environment.Open(EnvironmentOpenFlags.NoThreadLocalStorage);
            LightningDatabase recordsDb, auditDb;
            using (var tx = environment.BeginTransaction())
            {
                recordsDb = tx.OpenDatabase("records", new DatabaseConfiguration { Flags = DatabaseOpenFlags.Create });
                auditDb = tx.OpenDatabase("audit", new DatabaseConfiguration { Flags = DatabaseOpenFlags.Create });
                tx.Commit();
            }
            var clock = Stopwatch.StartNew();
            for (var start = 0; start < encoded.Count; start += LimitBatch)
            {
                using var tx = environment.BeginTransaction();
                for (var i = start; i < Math.Min(encoded.Count, start + LimitBatch); i++)
                {
                    tx.Put(recordsDb, encoded[i].Key, encoded[i].Value);
                    tx.Put(auditDb, RecordCodec.SequenceKey(i + 1), encoded[i].Key);
                }
                tx.Commit();
            }
            var elapsed = clock.Elapsed;
            recordsDb.Dispose();
            auditDb.Dispose();
            return elapsed;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// Each stage of the path from A's log to B's cursor, alone and in this thread, over A's records: the sender's frame
    /// building, the wire (serialize and deserialize each frame), the follower's checks and decode, its LMDB apply, and
    /// the watermark. No actors and no network: what is left of the catch-up time beyond their sum is messaging.
    /// </summary>
    private static List<(string Stage, TimeSpan Elapsed, long AllocatedBytes, string Note)> Breakdown(BenchNode a, string directory)
    {
        var settings = a.Runtime.Settings;
        var subscribe = new Subscribe("bench-follower", 1, 1, settings.WindowBytes, ActorRefs.Nobody,
            MaxChunkBytes: settings.ChunkSizeBytes, MaxFramePayloadBytes: settings.MaxFramePayloadBytes);
        var stages = new List<(string, TimeSpan, long, string)>();
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        long Allocated()
        {
            var before = allocated;
            allocated = GC.GetAllocatedBytesForCurrentThread();
            return allocated - before;
        }

        // Sender: every frame of the log, credited at once.
        var frames = new List<RecordFrame>();
        var stream = OutgoingStream.Begin(subscribe, StreamLimits.Of(settings), a.Store.FirstRetainedSequence, a.Store.LastSequence);
        var clock = Stopwatch.StartNew();
        while (stream.NextSequence <= Records)
        {
            if (stream.BuildNext(a.Store) is not FrameReady ready) throw new InvalidOperationException("the sender stopped short of the log's end");
            stream = ready.Next.Credited(new Credit(1, ready.Next.SentBytes));
            frames.Add((RecordFrame)ready.Frame);
        }
        stages.Add(("sender builds frames (OutgoingStream.BuildNext)", clock.Elapsed, Allocated(),
            $"{frames.Count} frames, {frames.Average(f => f.Payload.Length) / 1024:F0} KiB and {frames.Average(f => f.RecordCount):F0} records each"));

        // Wire: what Akka.Remote's serialization does with each frame, both ways.
        var serializer = new ReplicationSerializer((ExtendedActorSystem)a.Runtime.System);
        Allocated();
        clock.Restart();
        var received = frames.Select(f => (RecordFrame)serializer.FromBinary(serializer.ToBinary(f), serializer.Manifest(f))).ToList();
        stages.Add(("wire: serialize + deserialize each frame", clock.Elapsed, Allocated(), ""));

        // Follower: checks and decode, then the state after each frame (what the watermark is told is kept for below).
        var incoming = IncomingStream.Begin(1, 0);
        var accepted = new List<FrameAccepted>();
        var decode = TimeSpan.Zero;
        var commands = new List<Watermark.ICommand>();
        var decodeAllocated = 0L;
        Allocated();
        foreach (var frame in received)
        {
            clock.Restart();
            var check = incoming.Check(frame, settings.MaxFramePayloadBytes);
            decode += clock.Elapsed;
            decodeAllocated += Allocated();
            if (check is not FrameAccepted ok) throw new InvalidOperationException($"frame refused: {((FrameRefused)check).Reason}");
            accepted.Add(ok);
            var applied = incoming.Applied(ok, ok.Records.Select(_ => (IReadOnlyCollection<string>)[]).ToArray(), frame.CostBytes);
            incoming = applied.Next;
            commands.AddRange(applied.ToWatermark);
        }
        stages.Add(("follower checks + decodes frames (IncomingStream.Check)", decode, decodeAllocated, ""));

        // Apply: one transaction per frame into a fresh store, as the receiver does.
        var storeSettings = ReplicationSettings.Create(Akka.Configuration.ConfigurationFactory.ParseString($"cluster-node.data-dir = \"{directory.Replace("\\", "/")}\""));
        using (var store = RecordStore.Open(storeSettings.Store))
        {
            var batches = accepted.Select(frame => frame.Records.Select(r => r.Record).ToArray()).ToList();
            Allocated();
            clock.Restart();
            foreach (var batch in batches) store.ApplyReplicated(batch);
            stages.Add(("follower applies frames (RecordStore.ApplyReplicated, a transaction each)", clock.Elapsed, Allocated(), ""));
        }
        Directory.Delete(directory, recursive: true);
        // The receiver applies the frames queued in its mailbox together: at most this many per transaction.
        const int group = 16;
        using (var store = RecordStore.Open(storeSettings.Store))
        {
            var batches = accepted.Chunk(group).Select(frames => frames.SelectMany(frame => frame.Records.Select(r => r.Record)).ToArray()).ToList();
            Allocated();
            clock.Restart();
            foreach (var batch in batches) store.ApplyReplicated(batch);
            stages.Add(($"follower applies frames {group} per transaction (as a full mailbox allows)", clock.Elapsed, Allocated(), ""));
        }
        Directory.Delete(directory, recursive: true);

        // Watermark: every command the receiver sends, with a report and a cursor write taken after each as the actor does.
        var cursor = new PeerCursor(0);
        cursor.BeginEpoch(1);
        Allocated();
        clock.Restart();
        var reports = 0;
        var writes = 0;
        foreach (var command in commands)
        {
            cursor.Handle(command);
            if (cursor.TakeAdvanced() is not null) reports++;
            if (cursor.TakePersist() is CursorStore.Advance advance)
            {
                writes++;
                cursor.Persisted(advance.Sequence);
            }
        }
        stages.Add(("watermark (PeerCursor) takes what the receiver tells it", clock.Elapsed, Allocated(),
            $"{commands.Count} messages to the watermark, {reports} reports back, {writes} cursor writes"));
        return stages;
    }
}
