using ClusterNode.Persistence.Blobs;
using System.Diagnostics;

namespace ClusterNode.Bench;

/// <summary>
/// Measurement 1, the machine's own limits for blob-heavy catch-up: durable blob files written the way cluster-node
/// writes them (temp file, its bytes made durable, rename over, fsync of the directory) and nothing else, either one
/// blob at a time with a fsync each (1), or in batches whose bytes one syncfs makes durable (1b, cluster-node's
/// default <c>blob.durability = syncfs</c>).
/// </summary>
public static class DiskLimit
{
    public sealed record Result(int Blobs, int BlobBytes, TimeSpan Elapsed)
    {
        public double MegabytesPerSecond => (double)Blobs * BlobBytes / 1e6 / Elapsed.TotalSeconds;
    }

    public static Result Measure(string directory, int blobs, int blobBytes, int syncfsBatch = 0)
    {
        if (syncfsBatch > 0) return MeasureBatched(directory, blobs, blobBytes, syncfsBatch);
        var temp = Directory.CreateDirectory(Path.Combine(directory, "tmp")).FullName;
        var final = Directory.CreateDirectory(Path.Combine(directory, "blobs")).FullName;
        var payload = new byte[blobBytes];
        new Random(42).NextBytes(payload);

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < blobs; i++)
        {
            var tempPath = Path.Combine(temp, $"{i:D6}.tmp");
            using (var file = new FileStream(tempPath, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, BufferSize = 0 }))
            {
                file.Write(payload);
                file.Flush(flushToDisk: true);
            }
            File.Move(tempPath, Path.Combine(final, $"{i:D6}"), overwrite: true);
            DirectorySync.Sync(final);
        }
        return new Result(blobs, blobBytes, clock.Elapsed);
    }

    private static Result MeasureBatched(string directory, int blobs, int blobBytes, int batch)
    {
        var temp = Directory.CreateDirectory(Path.Combine(directory, "tmp")).FullName;
        var final = Directory.CreateDirectory(Path.Combine(directory, "blobs")).FullName;
        var payload = new byte[blobBytes];
        new Random(42).NextBytes(payload);

        var clock = Stopwatch.StartNew();
        for (var first = 0; first < blobs; first += batch)
        {
            var last = Math.Min(blobs, first + batch);
            for (var i = first; i < last; i++)
            {
                using var file = new FileStream(Path.Combine(temp, $"{i:D6}.tmp"), new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, BufferSize = 0 });
                file.Write(payload);
            }
            DirectorySync.SyncFileSystem(final);
            for (var i = first; i < last; i++) File.Move(Path.Combine(temp, $"{i:D6}.tmp"), Path.Combine(final, $"{i:D6}"), overwrite: true);
            DirectorySync.Sync(final);
        }
        return new Result(blobs, blobBytes, clock.Elapsed);
    }
}
