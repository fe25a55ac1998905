using System.Diagnostics;
using System.Security.Cryptography;

namespace ClusterNode.Bench;

/// <summary>
/// Measurement 4, the blob scrub: this machine's own sequential read + SHA-256 of a node's blob files (4, the limit of
/// any scrub), one scrub pass over the same files at an unlimited rate as the scrub times it itself (4a), and catch-up
/// without and with a scrub running at its default rate on both nodes (4b).
/// </summary>
public static class ScrubCost
{
    /// <summary>Passes back to back (start to start 50 ms) at the default rate: a scrub that never rests.</summary>
    public const string RunningAtDefaultRate = "cluster-node.scrub.interval = 50ms";

    /// <summary>A rate no disk reaches; passes 300 ms apart, so that the bench sees each one end.</summary>
    private const string Unlimited = "cluster-node.scrub { interval = 300ms, rate = 1 TiB }";

    public sealed record Result(long Bytes, TimeSpan Elapsed)
    {
        public double MegabytesPerSecond => Bytes / 1e6 / Elapsed.TotalSeconds;
    }

    /// <summary>Every file of <paramref name="blobDirectory"/> read in 1 MiB pieces and hashed, one after the other.</summary>
    public static Result ReadAndHash(string blobDirectory)
    {
        var buffer = new byte[1 << 20];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long bytes = 0;
        var clock = Stopwatch.StartNew();
        foreach (var path in Directory.EnumerateFiles(blobDirectory))
        {
            using var file = new FileStream(path, new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite, BufferSize = 0 });
            int read;
            while ((read = file.Read(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                bytes += read;
            }
            hash.GetHashAndReset();
        }
        return new Result(bytes, clock.Elapsed);
    }

    /// <summary>Starts a node on <paramref name="dataDirectory"/> with an unlimited scrub and collects its first passes.</summary>
    public static async Task<IReadOnlyList<Result>> Passes(string dataDirectory, int passes, TimeSpan limit)
    {
        await using var node = BenchNode.Start(dataDirectory, Unlimited);
        var results = new List<Result>();
        long seen = 0;
        var clock = Stopwatch.StartNew();
        while (results.Count < passes && clock.Elapsed < limit)
        {
            await Task.Delay(10);
            var status = await node.ScrubStatusAsync();
            if (status.PassesCompleted <= seen) continue;
            seen = status.PassesCompleted;
            results.Add(new Result(status.LastPassBytes!.Value, status.LastPassDuration!.Value));
        }
        return results;
    }
}
