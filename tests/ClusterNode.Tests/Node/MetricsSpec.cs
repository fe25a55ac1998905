using System.Globalization;
using Akka.Configuration;
using ClusterNode.Actors;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using ClusterNode.Node;
using ClusterNode.Node.Http;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Node;

/// <summary>
/// <c>GET /metrics</c> as a scraper reads it: Prometheus text, parsed line by line, the follower's per-peer series
/// moving while it catches up with its peer, a failed blob save counted, the latency of writes recorded.
/// </summary>
public sealed class MetricsSpec : InProcessNodeSpec
{
    private const int Records = 60;
    private readonly ITestOutputHelper _output;

    public MetricsSpec(ITestOutputHelper output) : base("metrics", TimeSpan.FromSeconds(30)) => _output = output;

    [Fact]
    public async Task A_follower_catching_up_shows_committed_and_durable_rising_bytes_received_and_lag_falling_to_zero()
    {
        var (a, lastOfA, seed) = await StartSourceWithBlobs();
        // A slow disk on B (one chunk per blob): its catch-up lasts long enough to be seen under way. And a small window,
        // so A's blobs (1 MB) arrive as B handles them rather than all before the first scrape.
        var b = await StartNode("b", Loopback.FreePort(), seed,
            "cluster-node.fault-injection.blob-save.chunk-delay = 40ms\ncluster-node.replication.window = 128 KiB");
        var (nodeA, nodeB) = (a.Host.Runtime.Store.NodeId, b.Host.Runtime.Store.NodeId);

        var samples = new List<(double Committed, double Durable, double Received, double Lag)>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            var scrape = await Scrape(b);
            if (Leg(scrape, "cluster_node_peer_durable", nodeB, nodeA) is { } durable)
            {
                samples.Add((Leg(scrape, "cluster_node_peer_committed", nodeB, nodeA)!.Value, durable,
                    Leg(scrape, "cluster_node_peer_received_bytes_total", nodeB, nodeA) ?? 0, Leg(scrape, "cluster_node_peer_lag", nodeB, nodeA) ?? -1));
                if (durable == lastOfA && samples[^1].Lag == 0) break;
            }
            Assert.True(DateTime.UtcNow < deadline, $"B did not catch up with A's {lastOfA} in 90 s; samples: {string.Join(", ", samples)}");
            await Task.Delay(100); // the scraper's poll interval, not the product's
        }
        _output.WriteLine(string.Join("\n", samples));
        _output.WriteLine(await Client.GetStringAsync(Url(b, "/metrics")));

        var last = samples[^1];
        Assert.Equal(lastOfA, last.Committed);
        Assert.Equal(0, Leg(await Scrape(b), "cluster_node_peer_outstanding_blobs", nodeB, nodeA));
        Assert.Equal(0, Leg(await Scrape(b), "cluster_node_peer_lag_time_seconds", nodeB, nodeA));
        // Moving, never backwards: durable seen part way, and every series monotonic over the catch-up.
        Assert.Contains(samples, s => s.Durable > 0 && s.Durable < lastOfA);
        for (var i = 1; i < samples.Count; i++)
        {
            Assert.True(samples[i].Durable >= samples[i - 1].Durable, $"durable went back at sample {i}");
            Assert.True(samples[i].Committed >= samples[i - 1].Committed, $"committed went back at sample {i}");
            Assert.True(samples[i].Received >= samples[i - 1].Received, $"received bytes went back at sample {i}");
        }
        Assert.Contains(samples, s => s.Received < last.Received);
        Assert.Contains(samples, s => s.Lag > 0);
        Assert.True(last.Received >= Records * 16 * 1024, $"B received {last.Received} bytes, fewer than A's blobs");
        Assert.Equal(Records, Leg(await Scrape(b), "cluster_node_peer_received_records_total", nodeB, nodeA));
    }

    [Fact]
    public async Task A_failed_blob_save_is_counted_with_the_resubscription_it_caused()
    {
        var (a, lastOfA, seed) = await StartSourceWithBlobs();
        var b = await StartNode("b", Loopback.FreePort(), seed, "cluster-node.fault-injection.blob-save { skip = 5, fail-count = 2 }");
        var (nodeA, nodeB) = (a.Host.Runtime.Store.NodeId, b.Host.Runtime.Store.NodeId);

        await Loopback.Eventually(async () => Assert.Equal(lastOfA, Leg(await Scrape(b), "cluster_node_peer_durable", nodeB, nodeA)));
        var scrape = await Scrape(b);
        Assert.Equal(2, Leg(scrape, "cluster_node_peer_blob_save_failures_total", nodeB, nodeA));
        // Two failures in one stream cost one resubscription, or two when the second came in the next stream.
        Assert.InRange(scrape.Single(s => s.Name == "cluster_node_peer_resubscriptions_total" && s.Is("node", nodeB) && s.Is("peer", nodeA)
            && s.Is("reason", "blob-save-failed")).Value, 1, 2);
        // A's view: nothing failed there, and every one of its writes was timed.
        var ofA = await Scrape(a);
        Assert.DoesNotContain(ofA, s => s.Name == "cluster_node_peer_blob_save_failures_total" && s.Is("node", nodeA) && s.Value > 0);
        Assert.Equal(Records, ofA.Single(s => s.Name == "cluster_node_write_duration_seconds_count" && s.Is("node", nodeA) && s.Is("method", "PUT")
            && s.Is("outcome", "success")).Value);
    }

    [Fact]
    public async Task Metrics_need_a_token_like_the_rest_of_the_API_and_a_read_token_will_do()
    {
        const string read = "metrics-reader-token";
        var hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(read))).ToLowerInvariant();
        var settings = HttpSettings.Create(ConfigurationFactory.ParseString($$"""cluster-node.http.tokens = [{ sha256 = "{{hash}}", role = read }]""").WithDefaults()) with { Port = 0 };
        var port = Loopback.FreePort();
        var node = await StartNode("solo", port, $"akka.tcp://cluster-node@127.0.0.1:{port}", settings: settings);

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await Client.GetAsync(Url(node, "/metrics"))).StatusCode);
        using var request = new HttpRequestMessage(HttpMethod.Get, Url(node, "/metrics"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", read);
        var answer = await Client.SendAsync(request);
        Assert.Equal(System.Net.HttpStatusCode.OK, answer.StatusCode);
        Assert.NotEmpty(Parse(await answer.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task A_node_exporting_over_otlp_to_a_collector_that_is_down_still_serves_and_scrapes()
    {
        var collector = new Uri($"http://127.0.0.1:{Loopback.FreePort()}"); // nothing listens there
        var settings = new HttpSettings("127.0.0.1", 0) { Telemetry = new ClusterNode.Node.Telemetry.TelemetrySettings(collector, ClusterNode.Node.Telemetry.OtlpProtocol.Grpc, TimeSpan.FromSeconds(1)) };
        var port = Loopback.FreePort();
        var node = await StartNode("solo", port, $"akka.tcp://cluster-node@127.0.0.1:{port}", settings: settings);

        var put = await Client.PutAsync(Url(node, "/tables/t/records/r"), new StringContent("""{"a":1}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.True(put.IsSuccessStatusCode, put.StatusCode.ToString());
        var nodeId = node.Host.Runtime.Store.NodeId;
        Assert.Equal(1, (await Scrape(node)).Single(s => s.Name == "cluster_node_write_duration_seconds_count" && s.Is("node", nodeId)).Value);
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>A alone, with <see cref="Records"/> records of one 16 KiB blob each written over HTTP; its last sequence; its address as a seed.</summary>
    private async Task<((NodeHost Host, HttpServer Http) Node, long LastSequence, string Seed)> StartSourceWithBlobs()
    {
        var port = Loopback.FreePort();
        var seed = $"akka.tcp://cluster-node@127.0.0.1:{port}";
        var a = await StartNode("a", port, seed);
        for (var i = 0; i < Records; i++)
        {
            var put = await Client.PutAsync(Url(a, $"/tables/photos/records/{TestData.Id(i)}/blobs/image"), new ByteArrayContent(TestData.Blob(i, 16 * 1024)));
            Assert.True(put.IsSuccessStatusCode, $"PUT {i}: {put.StatusCode}");
        }
        return (a, a.Host.Runtime.Store.LastSequence, seed);
    }

    private async Task<IReadOnlyList<Sample>> Scrape((NodeHost Host, HttpServer Http) node)
    {
        var answer = await Client.GetAsync(Url(node, "/metrics"));
        Assert.Equal(System.Net.HttpStatusCode.OK, answer.StatusCode);
        Assert.StartsWith("text/plain", answer.Content.Headers.ContentType?.MediaType ?? "");
        return Parse(await answer.Content.ReadAsStringAsync());
    }

    private static double? Leg(IReadOnlyList<Sample> scrape, string name, string node, string peer) =>
        scrape.SingleOrDefault(s => s.Name == name && s.Is("node", node) && s.Is("peer", peer))?.Value;

    private sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
    {
        public bool Is(string label, string value) => Labels.TryGetValue(label, out var v) && v == value;
    }

    private static readonly Regex Line = new("""^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$""");
    private static readonly Regex Label = new("""([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?""");

    /// <summary>The Prometheus text format, as a scraper reads it: <c>name{label="value",...} value [timestamp]</c>; # lines are comments.</summary>
    private static IReadOnlyList<Sample> Parse(string text)
    {
        var samples = new List<Sample>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var match = Line.Match(line);
            Assert.True(match.Success, $"not a Prometheus sample line: {line}");
            var labels = Label.Matches(match.Groups[2].Value).ToDictionary(m => m.Groups[1].Value, m => Regex.Unescape(m.Groups[2].Value));
            var value = match.Groups[3].Value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                var number => double.Parse(number, CultureInfo.InvariantCulture),
            };
            samples.Add(new Sample(match.Groups[1].Value, labels, value));
        }
        return samples;
    }
}
