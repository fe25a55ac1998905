using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using ClusterNode.Node.Http;
using LightningDB;

namespace ClusterNode.Bench;

/// <summary>
/// Measurement 7, the write path: ingest through the HTTP API of one node (real Kestrel on loopback, a node in this
/// process) against the machine's own limits measured in the same run: LMDB puts batched 1,000 to a transaction with
/// one sync each (for small records), and durable files written one at a time (line 1, for blobs).
/// </summary>
public static class WriteIngest
{
    public sealed record Result(int Records, long Bytes, TimeSpan Elapsed)
    {
        /// <summary>CPU time of this whole process (server and clients) during the run.</summary>
        public TimeSpan Cpu { get; init; }

        public double RecordsPerSecond => Records / Elapsed.TotalSeconds;
        public double MegabytesPerSecond => Bytes / 1e6 / Elapsed.TotalSeconds;
    }

    /// <summary>A record's data of about 200 bytes, as the small-record ingest writes it.</summary>
    public static byte[] SmallRecord(int index) =>
        Encoding.UTF8.GetBytes($$"""{"n":{{index}},"kind":"reading","text":"{{new string((char)('a' + index % 26), 160)}}"}""");

    /// <summary>The limit for small records: LMDB alone, <paramref name="perTransaction"/> puts of ~200 B per transaction, one sync per commit.</summary>
    public static Result LmdbBatchedPuts(string directory, int records, int perTransaction)
    {
        Directory.CreateDirectory(directory);
        using var environment = new LightningEnvironment(directory, new EnvironmentConfiguration { MapSize = 1L << 30, MaxDatabases = 1 });
        environment.Open(EnvironmentOpenFlags.NoThreadLocalStorage);
        LightningDatabase database;
        using (var setup = environment.BeginTransaction())
        {
            database = setup.OpenDatabase("records", new DatabaseConfiguration { Flags = DatabaseOpenFlags.Create });
            setup.Commit();
        }
        var values = Enumerable.Range(0, records).Select(SmallRecord).ToArray();
        var clock = Stopwatch.StartNew();
        for (var first = 0; first < records; first += perTransaction)
        {
            using var tx = environment.BeginTransaction();
            for (var i = first; i < Math.Min(records, first + perTransaction); i++)
                tx.Put(database, Encoding.UTF8.GetBytes($"t/rec-{i:D7}"), values[i]);
            if (tx.Commit() != MDBResultCode.Success) throw new IOException("LMDB commit failed");
        }
        var elapsed = clock.Elapsed;
        database.Dispose();
        return new Result(records, values.Sum(v => (long)v.Length), elapsed);
    }

    /// <summary>A node with its HTTP API on a free loopback port.</summary>
    public sealed class HttpNode : IAsyncDisposable
    {
        private HttpNode(BenchNode node, HttpServer http)
        {
            Node = node;
            Http = http;
        }

        public BenchNode Node { get; }
        public HttpServer Http { get; }

        public static async Task<HttpNode> Start(string directory)
        {
            var node = BenchNode.Start(directory);
            return new HttpNode(node, await HttpServer.StartAsync(() => node.Runtime, new HttpSettings("127.0.0.1", 0)));
        }

        public async ValueTask DisposeAsync()
        {
            await Http.DisposeAsync();
            await Node.DisposeAsync();
        }
    }

    private static HttpClient Client() => new(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { Timeout = TimeSpan.FromSeconds(120) };

    /// <summary>Runs <paramref name="work"/>(i) for i in [0, count) on <paramref name="clients"/> concurrent loops; each must succeed.</summary>
    private static async Task<TimeSpan> Concurrently(int count, int clients, Func<int, Task<HttpResponseMessage>> work)
    {
        var next = -1;
        var clock = Stopwatch.StartNew();
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                using var response = await work(i);
                if (!response.IsSuccessStatusCode)
                    throw new InvalidOperationException($"request {i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }));
        LastCpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
        return clock.Elapsed;
    }

    /// <summary>The process's CPU time during the last <see cref="Concurrently"/> run.</summary>
    private static TimeSpan LastCpu;

    /// <summary>Records with one blob each, each in one multipart request (data + blob), or as a record PUT then a blob PUT.</summary>
    public static async Task<Result> BlobIngest(string directory, int records, int blobBytes, int clients, bool multipart)
    {
        await using var node = await HttpNode.Start(directory);
        using var client = Client();
        var blob = new byte[blobBytes];
        new Random(11).NextBytes(blob);
        var data = """{"kind":"photo","camera":"bench"}"""u8.ToArray();
        Uri Url(string path) => new(node.Http.Url, path);
        var elapsed = await Concurrently(records, clients, async i =>
        {
            var record = $"tables/photos/records/rec-{i:D6}";
            if (multipart)
            {
                using var form = new MultipartFormDataContent
                {
                    { new ByteArrayContent(data) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } }, "data" },
                    { new ByteArrayContent(blob), "image" },
                };
                return await client.PutAsync(Url(record), form);
            }
            using (var put = await client.PutAsync(Url(record), new ByteArrayContent(data)))
                if (!put.IsSuccessStatusCode) return put;
            return await client.PutAsync(Url(record + "/blobs/image"), new ByteArrayContent(blob));
        });
        return new Result(records, (long)records * blobBytes, elapsed) { Cpu = LastCpu };
    }

    /// <summary>
    /// Records with one blob each, <paramref name="perRequest"/> to a multipart batch POST (a part <c>records</c> in
    /// NDJSON, then a part <c>{id}/image</c> per blob).
    /// </summary>
    public static async Task<Result> BlobBatchIngest(string directory, int records, int blobBytes, int clients, int perRequest)
    {
        await using var node = await HttpNode.Start(directory);
        using var client = Client();
        var blob = new byte[blobBytes];
        new Random(11).NextBytes(blob);
        var requests = (records + perRequest - 1) / perRequest;
        var elapsed = await Concurrently(requests, clients, async r =>
        {
            var ids = Enumerable.Range(r * perRequest, Math.Min(records, (r + 1) * perRequest) - r * perRequest).Select(i => $"rec-{i:D6}").ToArray();
            var lines = string.Concat(ids.Select(id => $$$"""{"id":"{{{id}}}","data":{"kind":"photo","camera":"bench"}}""" + "\n"));
            using var form = new MultipartFormDataContent
            {
                { new ByteArrayContent(Encoding.UTF8.GetBytes(lines)) { Headers = { ContentType = new MediaTypeHeaderValue("application/x-ndjson") } }, "records" },
            };
            foreach (var id in ids) form.Add(new ByteArrayContent(blob), $"{id}/image");
            return await client.PostAsync(new Uri(node.Http.Url, "tables/photos/records"), form);
        });
        return new Result(records, (long)records * blobBytes, elapsed) { Cpu = LastCpu };
    }

    /// <summary>Small records through the batch API (NDJSON, <paramref name="perRequest"/> per request) or one PUT each.</summary>
    public static async Task<Result> SmallRecordIngest(string directory, int records, int clients, int perRequest)
    {
        await using var node = await HttpNode.Start(directory);
        using var client = Client();
        var values = Enumerable.Range(0, records).Select(SmallRecord).ToArray();
        var bytes = values.Sum(v => (long)v.Length);
        if (perRequest <= 1)
        {
            var single = await Concurrently(records, clients, i =>
                client.PutAsync(new Uri(node.Http.Url, $"tables/readings/records/rec-{i:D7}"), new ByteArrayContent(values[i])));
            return new Result(records, bytes, single) { Cpu = LastCpu };
        }
        var bodies = Enumerable.Range(0, (records + perRequest - 1) / perRequest).Select(r =>
        {
            var lines = new StringBuilder();
            for (var i = r * perRequest; i < Math.Min(records, (r + 1) * perRequest); i++)
                lines.Append("{\"id\":\"rec-").Append(i.ToString("D7")).Append("\",\"data\":").Append(Encoding.UTF8.GetString(values[i])).Append("}\n");
            return Encoding.UTF8.GetBytes(lines.ToString());
        }).ToArray();
        var elapsed = await Concurrently(bodies.Length, clients, r =>
            client.PostAsync(new Uri(node.Http.Url, "tables/readings/records"),
                new ByteArrayContent(bodies[r]) { Headers = { ContentType = new MediaTypeHeaderValue("application/x-ndjson") } }));
        return new Result(records, bytes, elapsed) { Cpu = LastCpu };
    }
}
