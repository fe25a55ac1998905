using System.Collections.Concurrent;
using System.Net;
using ClusterNode.Tests.EndToEnd;
using ClusterNode.Tests.Replication;

namespace ClusterNode.Tests.Chaos;

/// <summary>
/// One write of a chaos run: a record with its JSON, then its blob. Every write has an id of its own, so what each
/// node must end up holding is known exactly. The blob's bytes are made again from (seed, size) when checked.
/// </summary>
public sealed record ChaosWrite(int Source, string Id, string Json, int BlobSeed, int BlobBytes)
{
    public const string Table = "chaos";
    public const string Field = "file";

    public string RecordPath => $"tables/{Table}/records/{Id}";
    public string BlobPath => $"{RecordPath}/blobs/{Field}";
    public byte[] Blob() => TestData.Blob(BlobSeed, BlobBytes);
}

/// <summary>
/// Clients writing to one node each, as users would: PUT the record, then PUT its blob; 503 with Retry-After is
/// retried after the time it names; a connection error (the node is down) or another answer gives the write up.
/// A write is acknowledged only when both PUTs answered 2xx.
/// </summary>
public sealed class ChaosWriters(HttpClient client, Func<int, Uri> urlOf)
{
    private const int MaxRetries = 20;
    private static readonly TimeSpan BackoffAfterError = TimeSpan.FromMilliseconds(250);

    private readonly ConcurrentQueue<ChaosWrite> _acknowledged = new();
    private readonly ConcurrentQueue<string> _unexpected = new();
    private long _attempts, _connectionErrors, _retries;

    public IReadOnlyCollection<ChaosWrite> Acknowledged => _acknowledged;
    public IReadOnlyCollection<string> UnexpectedAnswers => _unexpected;
    public long Attempts => Interlocked.Read(ref _attempts);
    public long ConnectionErrors => Interlocked.Read(ref _connectionErrors);
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>Writes to node <paramref name="node"/> until <paramref name="stop"/>; sizes drawn from <paramref name="random"/>.</summary>
    public async Task Loop(int node, int clientIndex, Random random, CancellationToken stop)
    {
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            var id = $"n{node + 1}-c{clientIndex}-{n:D6}";
            var write = new ChaosWrite(node, id, $$"""{"source":"n{{node + 1}}","client":{{clientIndex}},"n":{{n}},"note":"written during chaos, ü"}""",
                BlobSeed: ((node * 10 + clientIndex) << 20) + n, BlobBytes: random.Next(2 * 1024, 20 * 1024 + 1));
            Interlocked.Increment(ref _attempts);
            try
            {
                if (!await Put(write, urlOf(node), write.RecordPath, () => NodeApi.Json(write.Json), stop)) continue;
                if (!await Put(write, urlOf(node), write.BlobPath, () => new ByteArrayContent(write.Blob()), stop)) continue;
                _acknowledged.Enqueue(write);
                // A pause between writes, so six clients leave the two cores some room for the nodes' own work.
                await Delay(TimeSpan.FromMilliseconds(random.Next(0, 100)), stop);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or OperationCanceledException)
            {
                if (stop.IsCancellationRequested) return;
                Interlocked.Increment(ref _connectionErrors);
                await Delay(BackoffAfterError, stop);
            }
        }
    }

    private async Task<bool> Put(ChaosWrite write, Uri node, string path, Func<HttpContent> body, CancellationToken stop)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var response = await client.PutAsync(new Uri(node, path), body(), stop);
            if (response.IsSuccessStatusCode) return true;
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter?.Delta is { } wait && attempt < MaxRetries)
            {
                Interlocked.Increment(ref _retries);
                await Task.Delay(wait, stop);
                continue;
            }
            _unexpected.Enqueue($"PUT {path} on n{write.Source + 1}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(stop)}");
            return false;
        }
    }

    private static async Task Delay(TimeSpan delay, CancellationToken stop)
    {
        try { await Task.Delay(delay, stop); } catch (OperationCanceledException) { /* the run is over */ }
    }
}
