namespace ClusterNode.Bench;

/// <summary>Part <c>ingest</c> of the bench (lines 7*): the limits, then the HTTP write path against them, in one run.</summary>
public static class WriteIngestPart
{
    private const int BlobRecords = 1_000;
    private const int BlobBytes = 50 * 1024;
    private const int BlobsPerBatch = 50;
    private const int BlobBatchClients = 4;
    private const int SmallRecords = 100_000;
    private const int PerBatch = 1_000;
    private const int BatchClients = 4;
    private const int SingleRecords = 10_000;
    private const int Clients = 8;

    /// <param name="diskMBps">Line 1 when the disk part ran in this run; else measured here the same way.</param>
    public static async Task Run(Table table, string root, double? diskMBps, int repeats)
    {
        var runNumber = 0;
        string Directory() => Path.Combine(root, $"ingest-{runNumber++}");
        // The runs of the blob lines (7, 7b) keep their files until the last of them ends (about 1 GB): ext4 skips inodes
        // freed in the last minute or more when it allocates one, scanning past each, so creating 1,000 files right
        // after deleting 1,000 cost up to half the CPU of the blob rows (perf: __ext4_new_inode, recently_deleted), a
        // cost of the bench's own clean-up that the I/O-bound limit hides under its fsyncs and the CPU-bound HTTP rows
        // cannot; no ingesting node deletes thousands of files between its writes.
        var blobDirectories = new List<string>();
        void DeleteBlobDirectories()
        {
            foreach (var dir in blobDirectories)
                try { System.IO.Directory.Delete(dir, recursive: true); } catch (IOException) { }
            blobDirectories.Clear();
        }

        async Task<(WriteIngest.Result Median, string Runs)> Median(Func<string, Task<WriteIngest.Result>> run, Func<string, Task<WriteIngest.Result>> warmUp, bool blobs = false)
        {
            await Measure(warmUp, blobs); // JIT, Kestrel, connections: not counted
            var runs = new List<WriteIngest.Result>();
            for (var r = 0; r < repeats; r++) runs.Add(await Measure(run, blobs));
            return (Stats.Median(runs, x => x.Elapsed), Stats.Runs(runs.Select(x => x.Elapsed)));
        }

        async Task<WriteIngest.Result> Measure(Func<string, Task<WriteIngest.Result>> run, bool blobs)
        {
            var dir = Directory();
            if (blobs)
            {
                blobDirectories.Add(dir);
                return await run(dir);
            }
            try { return await run(dir); }
            finally { try { System.IO.Directory.Delete(dir, recursive: true); } catch (IOException) { } }
        }

        try
        {
            await Lines();
        }
        finally
        {
            DeleteBlobDirectories();
        }

        async Task Lines()
        {
            // 7: the limits.
            var fileLimit = diskMBps;
            if (fileLimit is null)
            {
                var runs = new List<DiskLimit.Result>();
                for (var r = 0; r < 5; r++)
                {
                    var dir = Directory();
                    blobDirectories.Add(dir);
                    runs.Add(DiskLimit.Measure(dir, BlobRecords, BlobBytes));
                }
                var disk = Stats.Median(runs, x => x.Elapsed);
                fileLimit = disk.MegabytesPerSecond;
                table.Add("7", $"fsync'd files: {BlobRecords} x 50 KiB, each fsync + rename + dir fsync (as line 1)", disk.Elapsed, disk.MegabytesPerSecond,
                    "1.00 (the limit)", Stats.Runs(runs.Select(x => x.Elapsed)));
            }
            var fileRatioOf = diskMBps is null ? "7" : "1";
            var (lmdb, lmdbRuns) = await Median(
                dir => Task.FromResult(WriteIngest.LmdbBatchedPuts(dir, SmallRecords, PerBatch)),
                dir => Task.FromResult(WriteIngest.LmdbBatchedPuts(dir, 10 * PerBatch, PerBatch)));
            table.Add("7a", $"LMDB batched puts: {SmallRecords:N0} x ~200 B, {PerBatch:N0} per transaction, one sync each = {lmdb.RecordsPerSecond:N0} records/s",
                lmdb.Elapsed, lmdb.MegabytesPerSecond, "1.00 (the limit)", lmdbRuns);

            // 7b: blobs over HTTP against the fsync'd-file limit.
            foreach (var multipart in new[] { true, false })
            {
                var how = multipart ? "one multipart PUT (data + blob) each" : "record PUT then blob PUT each";
                var (blobs, blobRuns) = await Median(
                    dir => WriteIngest.BlobIngest(dir, BlobRecords, BlobBytes, Clients, multipart),
                    dir => WriteIngest.BlobIngest(dir, 100, BlobBytes, Clients, multipart), blobs: true);
                table.Add("7b", $"HTTP blob ingest: {BlobRecords} records x 50 KiB, {Clients} clients, {how}", blobs.Elapsed, blobs.MegabytesPerSecond,
                    $"{blobs.MegabytesPerSecond / fileLimit.Value:F2} of {fileRatioOf}", blobRuns);
                table.Note($"    note: CPU of the process (server and clients) {blobs.Cpu.TotalMilliseconds / BlobRecords:F2} ms per record, " +
                           $"{blobs.Cpu / blobs.Elapsed:F2} of {Environment.ProcessorCount} cores during the median run");
            }

            // 7b: the same blobs in multipart batches, the analogue of PostgreSQL's multi-row INSERT.
            var (batches, batchBlobRuns) = await Median(
                dir => WriteIngest.BlobBatchIngest(dir, BlobRecords, BlobBytes, BlobBatchClients, BlobsPerBatch),
                // A whole run's worth of warm-up: its 20 requests would otherwise mostly run unoptimized (tier-0) code, where
                // the per-record rows get 100 requests of warm-up.
                dir => WriteIngest.BlobBatchIngest(dir, BlobRecords, BlobBytes, BlobBatchClients, BlobsPerBatch), blobs: true);
            table.Add("7b", $"HTTP blob batch ingest: {BlobRecords} records x 50 KiB, {BlobsPerBatch} per multipart POST (records + a part per blob), {BlobBatchClients} clients",
                batches.Elapsed, batches.MegabytesPerSecond, $"{batches.MegabytesPerSecond / fileLimit.Value:F2} of {fileRatioOf}", batchBlobRuns);
            table.Note($"    note: CPU of the process (server and clients) {batches.Cpu.TotalMilliseconds / BlobRecords:F2} ms per record, " +
                       $"{batches.Cpu / batches.Elapsed:F2} of {Environment.ProcessorCount} cores during the median run");

            DeleteBlobDirectories();

            // 7c: small records over HTTP against the LMDB batched-put limit.
            var (batched, batchRuns) = await Median(
                dir => WriteIngest.SmallRecordIngest(dir, SmallRecords, BatchClients, PerBatch),
                dir => WriteIngest.SmallRecordIngest(dir, 10 * PerBatch, BatchClients, PerBatch));
            table.Add("7c", $"HTTP batch ingest: {SmallRecords:N0} x ~200 B, NDJSON {PerBatch:N0} per POST, {BatchClients} clients = {batched.RecordsPerSecond:N0} records/s",
                batched.Elapsed, batched.MegabytesPerSecond, $"{batched.RecordsPerSecond / lmdb.RecordsPerSecond:F2} of 7a", batchRuns);
            var (single, singleRuns) = await Median(
                dir => WriteIngest.SmallRecordIngest(dir, SingleRecords, Clients, 1),
                dir => WriteIngest.SmallRecordIngest(dir, 1_000, Clients, 1));
            table.Add("7c", $"HTTP single PUTs: {SingleRecords:N0} x ~200 B, {Clients} clients, one PUT each = {single.RecordsPerSecond:N0} records/s",
                single.Elapsed, single.MegabytesPerSecond, $"{single.RecordsPerSecond / lmdb.RecordsPerSecond:F2} of 7a", singleRuns);
        }
    }
}
