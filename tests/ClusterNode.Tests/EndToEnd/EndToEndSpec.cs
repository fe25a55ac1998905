using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.EndToEnd;

/// <summary>
/// Real node processes started from the repository's hocon files, driven only over HTTP and the command line.
/// </summary>
public sealed class EndToEndSpec : NodeProcessSpec
{
    private const int BlobBytes = 50 * 1024;

    public EndToEndSpec(ITestOutputHelper output) : base("e2e", output, TimeSpan.FromSeconds(30)) { }

    [Fact]
    public async Task Seed_scenario_B_converges_through_a_failed_blob_save_and_keeps_every_byte_after_A_is_gone()
    {
        var seedPort = Loopback.FreePort();
        var bPort = Loopback.FreePort();
        var a = Start("a", "hocon/local/node1.conf", seedPort, seedPort);
        await Healthy(a);
        const string oneFailure = "cluster-node.fault-injection.blob-save { skip = 10, fail-count = 1 }";
        var b = Start("b", "hocon/local/node2.conf", bPort, seedPort, null, oneFailure);
        await Healthy(b);

        for (var i = 0; i < 80; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(new Uri(a.Url, $"tables/photos/records/{TestData.Id(i)}"), Json($$"""{"n":{{i}}}"""))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(new Uri(a.Url, $"tables/photos/records/{TestData.Id(i)}/blobs/image"), new ByteArrayContent(TestData.Blob(i, BlobBytes)))).StatusCode);
        }
        var lastOfA = (await Status(a)).GetProperty("lastSequence").GetInt64();
        var clock = Stopwatch.StartNew();
        await Loopback.Eventually(async () => Assert.Equal(lastOfA, PersistedCursorFor(await Status(b), await NodeId(a))));
        Output.WriteLine($"B caught up with 80 x 50 KB within {clock.Elapsed.TotalSeconds:F2} s of the last write (polled every 200 ms)");

        Assert.Equal(0, await Cli("verify", "--url", a.Url.ToString(), "--url", b.Url.ToString()));

        // B restarts on its data directory, on the same ports: its cursor for A is recovered, not 0.
        await b.StopAsync();
        Nodes.Remove(b);
        b = Start("b", "hocon/local/node2.conf", bPort, seedPort, b.HttpPort);
        await Healthy(b);
        await Loopback.Eventually(async () => Assert.Equal(lastOfA, PersistedCursorFor(await Status(b), await NodeId(a))));
        Assert.Equal(0, await Cli("status", "--url", b.Url.ToString()));

        // A goes away: everything must be read from B alone, byte for byte.
        await a.StopAsync();
        for (var i = 0; i < 80; i++)
        {
            var response = await Client.GetAsync(new Uri(b.Url, $"tables/photos/records/{TestData.Id(i)}/blobs/image"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(TestData.Blob(i, BlobBytes), await response.Content.ReadAsByteArrayAsync());
        }
    }

    [Fact]
    public async Task Three_nodes_writing_at_once_to_overlapping_ids_end_equal_by_verify()
    {
        var seedPort = Loopback.FreePort();
        var nodes = new[]
        {
            Start("n1", "hocon/local/node1.conf", seedPort, seedPort),
            Start("n2", "hocon/local/node2.conf", Loopback.FreePort(), seedPort),
            Start("n3", "hocon/local/node3.conf", Loopback.FreePort(), seedPort),
        };
        foreach (var node in nodes) await Healthy(node);
        await Loopback.Eventually(async () => Assert.Equal(3, (await Status(nodes[0])).GetProperty("members").GetArrayLength()));

        // Each node writes 30 records; ids 0..9 are written by all three, so last-writer-wins decides them.
        await Task.WhenAll(nodes.Select((node, n) => Task.Run(async () =>
        {
            for (var i = 0; i < 30; i++)
            {
                var id = i < 10 ? $"shared-{i}" : $"own-{n}-{i}";
                // A shared record may hold a peer's blob whose bytes are still on their way (503 + Retry-After):
                // retry as a client would.
                await Retrying(() => Client.PutAsync(new Uri(node.Url, $"tables/docs/records/{id}"), Json($$"""{"by":{{n}},"i":{{i}}}""")));
                await Retrying(() => Client.PutAsync(new Uri(node.Url, $"tables/docs/records/{id}/blobs/file"), new ByteArrayContent(TestData.Blob(n * 1000 + i, 20_000))));
            }
        })));

        var urls = nodes.SelectMany(n => new[] { "--url", n.Url.ToString() }).ToArray();
        await Loopback.Eventually(async () => Assert.Equal(0, await Cli(["verify", .. urls])));
    }

    [Fact]
    public async Task A_follower_killed_mid_catch_up_converges_with_every_blob_intact_after_restart()
    {
        const int records = 200;
        var seedPort = Loopback.FreePort();
        var a = Start("a", "hocon/local/node1.conf", seedPort, seedPort);
        await Healthy(a);
        for (var i = 0; i < records; i++)
        {
            await Client.PutAsync(new Uri(a.Url, $"tables/photos/records/{TestData.Id(i)}"), Json($$"""{"n":{{i}}}"""));
            await Client.PutAsync(new Uri(a.Url, $"tables/photos/records/{TestData.Id(i)}/blobs/image"), new ByteArrayContent(TestData.Blob(i, BlobBytes)));
        }
        var lastOfA = (await Status(a)).GetProperty("lastSequence").GetInt64();
        var aId = await NodeId(a);

        // B catches up slowly and is killed (SIGKILL) halfway, with blobs written but not yet durable.
        var bPort = Loopback.FreePort();
        var b = Start("b", "hocon/local/node2.conf", bPort, seedPort, null, "cluster-node.fault-injection.blob-save.chunk-delay = 15ms");
        await Loopback.Eventually(async () => Assert.InRange(PersistedCursorFor(await Status(b), aId) ?? 0, 1, lastOfA - 1));
        await b.KillAsync();
        Nodes.Remove(b);

        b = Start("b", "hocon/local/node2.conf", bPort, seedPort);
        await Loopback.Eventually(async () => Assert.Equal(lastOfA, PersistedCursorFor(await Status(b), aId)));
        await a.StopAsync();
        for (var i = 0; i < records; i++)
        {
            var response = await Client.GetAsync(new Uri(b.Url, $"tables/photos/records/{TestData.Id(i)}/blobs/image"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(TestData.Blob(i, BlobBytes), await response.Content.ReadAsByteArrayAsync());
        }
    }

    [Fact]
    public async Task Killing_the_seed_with_the_lowest_address_leaves_the_other_node_taking_writes_and_both_converge_when_it_returns()
    {
        var aPort = Loopback.FreePort();
        var bPort = Loopback.FreePort();
        var seeds = new[] { aPort, bPort };
        var a = StartWithSeeds("a", "hocon/local/node1.conf", aPort, seeds);
        var b = StartWithSeeds("b", "hocon/local/node2.conf", bPort, seeds);
        await Healthy(a);
        await Healthy(b);
        await Loopback.Eventually(async () => Assert.Equal(2, (await Status(b)).GetProperty("members").GetArrayLength()));
        for (var i = 0; i < 10; i++) await PutRecordWithBlob(a, $"a-{i}", i);

        await a.KillAsync();
        Nodes.Remove(a);
        // Longer than any failure detector and the old split-brain resolver's 5 s: B must stay, and take writes all along.
        var writtenToB = 0;
        for (var clock = Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(15); writtenToB++)
            await PutRecordWithBlob(b, $"b-{writtenToB}", 100 + writtenToB);
        Assert.False(b.HasExited, "B exited while A was down");

        a = StartWithSeeds("a", "hocon/local/node1.conf", aPort, seeds, a.HttpPort);
        await Healthy(a);
        await Loopback.Eventually(async () => Assert.Equal(0, await Cli("verify", "--url", a.Url.ToString(), "--url", b.Url.ToString())));
        Assert.False(b.HasExited);
        for (var i = 0; i < writtenToB; i++)
        {
            var response = await Client.GetAsync(new Uri(a.Url, $"tables/docs/records/b-{i}/blobs/file"));
            Assert.Equal(TestData.Blob(100 + i, 10_000), await response.Content.ReadAsByteArrayAsync());
        }
        Output.WriteLine($"B took {writtenToB} writes while A was down; A has them all after its restart");
    }

    private async Task PutRecordWithBlob(NodeProcess node, string id, int seed)
    {
        Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(new Uri(node.Url, $"tables/docs/records/{id}"), Json($$"""{"seed":{{seed}}}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(new Uri(node.Url, $"tables/docs/records/{id}/blobs/file"), new ByteArrayContent(TestData.Blob(seed, 10_000)))).StatusCode);
    }

    private NodeProcess StartWithSeeds(string name, string hocon, int akkaPort, int[] seedPorts, int? httpPort = null)
    {
        var node = NodeProcess.Start(new NodeLaunch(name, hocon, Path.Combine(Root, name), akkaPort, httpPort ?? Loopback.FreePort(), seedPorts), Output);
        Nodes.Add(node);
        return node;
    }

    [Theory]
    [InlineData("missing-file", "nope.conf")]
    [InlineData("wrong-type", "cluster-node.replication.window")]
    [InlineData("akka-port-in-use", "akka.remote.dot-netty.tcp")]
    [InlineData("http-port-in-use", "cluster-node.http.port")]
    [InlineData("unwritable-data-dir", "cluster-node.data-dir")]
    public async Task Bad_configuration_stops_start_up_with_one_message_naming_the_key_or_file_and_exit_code_2(string problem, string named)
    {
        using var busy = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var busyPort = ((IPEndPoint)busy.LocalEndpoint).Port;
        var args = new List<string> { "run", "--set", $"cluster-node.data-dir = \"{Path.Combine(Root, problem).Replace("\\", "/")}\"" };
        args.AddRange(problem switch
        {
            "missing-file" => ["--config", "nope.conf"],
            "wrong-type" => ["--set", "cluster-node.replication.window = lots"],
            "akka-port-in-use" => ["--set", $"akka.remote.dot-netty.tcp.port = {busyPort}", "--set", $"cluster-node.http.port = {Loopback.FreePort()}"],
            "http-port-in-use" => ["--set", $"akka.remote.dot-netty.tcp.port = {Loopback.FreePort()}", "--set", $"cluster-node.http.port = {busyPort}"],
            _ => ["--set", "cluster-node.data-dir = \"/proc/cluster-node-cannot-write-here\"", "--set", $"akka.remote.dot-netty.tcp.port = {Loopback.FreePort()}"],
        });
        var (exitCode, error) = await CliWithError([.. args]);
        Assert.Equal(2, exitCode);
        var message = error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("cluster-node:")).ToList();
        Assert.Single(message);
        Assert.Contains(named, message[0]);
    }

    [Fact]
    public async Task Bad_input_to_a_real_node_gets_a_json_4xx_and_leaves_its_data_unchanged()
    {
        var port = Loopback.FreePort();
        var node = Start("solo", "hocon/single.conf", port, port, null, "cluster-node.blob.max-size = 64 KiB");
        await Healthy(node);
        await Client.PutAsync(new Uri(node.Url, "tables/people/records/bob"), Json("""{"kept":true}"""));
        var before = await Client.GetStringAsync(new Uri(node.Url, "tables/people/digest"));
        var lastBefore = (await Status(node)).GetProperty("lastSequence").GetInt64();

        var attempts = new (string Method, string Path, HttpContent? Body)[]
        {
            ("PUT", "tables/people/records/bob", new StringContent("{not json")),
            ("PUT", "tables/people/records/bob", new StringContent("[1,2,3]")),
            ("PUT", "tables/a%2Fb/records/x", Json("""{"a":1}""")),
            ("PUT", $"tables/people/records/{new string('x', 300)}", Json("""{"a":1}""")),
            ("PUT", "tables/people/records/bob/blobs/photo", new ByteArrayContent(new byte[100 * 1024])),
            ("GET", "no/such/route", null),
        };
        foreach (var (method, path, body) in attempts)
        {
            var response = await Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), new Uri(node.Url, path)) { Content = body });
            Assert.InRange((int)response.StatusCode, 400, 499);
            var error = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("error").GetString()), $"{method} {path}: no error message");
        }
        Assert.Equal(before, await Client.GetStringAsync(new Uri(node.Url, "tables/people/digest")));
        Assert.Equal(lastBefore, (await Status(node)).GetProperty("lastSequence").GetInt64());
    }


    private Task Healthy(NodeProcess node) => Client.Healthy(node);

    private Task<JsonElement> Status(NodeProcess node) => Client.Status(node);

    private Task<string> NodeId(NodeProcess node) => Client.NodeId(node);

    private static long? PersistedCursorFor(JsonElement status, string peer) => NodeApi.PersistedCursorFor(status, peer);

    /// <summary>Runs a cluster-node client command as a process; its output goes to the test log.</summary>
    private async Task<int> Cli(params string[] args) => (await CliWithError(args)).ExitCode;

    private async Task<(int ExitCode, string Error)> CliWithError(params string[] args)
    {
        var result = await NodeCli.RunAsync(args);
        Output.WriteLine($"cluster-node {string.Join(' ', args)} -> {result}");
        return (result.ExitCode, result.Error);
    }

    /// <summary>A write retried while the node answers 503 with Retry-After, as a client is expected to.</summary>
    private static async Task Retrying(Func<Task<HttpResponseMessage>> write)
    {
        for (var attempt = 0; ; attempt++)
        {
            var response = await write();
            if (response.StatusCode == HttpStatusCode.OK) return;
            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is not null && attempt < 100,
                $"write got {(int)response.StatusCode} after {attempt} retries");
            await Task.Delay(100);
        }
    }

    private static StringContent Json(string json) => NodeApi.Json(json);
}
