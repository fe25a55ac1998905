using ClusterNode.Persistence.Blobs;
using System.Diagnostics;

namespace ClusterNode.Bench;

/// <summary>
/// Measurement 1, the machine's own limit for blob-heavy catch-up: durable blob files written the way cluster-node
/// writes them (temp file, <c>Flush(true)</c>, rename over, fsync of the directory), one blob at a time, nothing else.
/// </summary>
public static class DiskLimit
{
    public sealed record Result(int Blobs, int BlobBytes, TimeSpan Elapsed)
    {
        public double MegabytesPerSecond => (double)Blobs * BlobBytes / 1e6 / Elapsed.TotalSeconds;
    }

    public static Result Measure(string directory, int blobs, int blobBytes)
    {
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

    /// <summary>fsync of a directory, which .NET does not offer (the same call cluster-node's BlobStore makes).</summary>
}
