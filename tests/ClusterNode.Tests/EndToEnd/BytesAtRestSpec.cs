using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.EndToEnd;

/// <summary>
/// Real node processes whose blob files rot or vanish after the write, and a node restored under its node id: no
/// wrong bytes served as good, damage repaired from a peer, a blob no member holds reported lost (410) without
/// holding any cursor, and a restored node getting back everything it wrote.
/// </summary>
public sealed class BytesAtRestSpec : NodeProcessSpec
{
    private const int BlobBytes = 30 * 1024;
    private const string ScrubInterval = "2s";
    private const string FastScrub = "cluster-node.scrub { interval = " + ScrubInterval + ", rate = 64 MiB }";
    private const string SlowScrub = "cluster-node.scrub.interval = 1h";

    public BytesAtRestSpec(ITestOutputHelper output) : base("bytes-at-rest", output, TimeSpan.FromSeconds(30)) { }

    [Fact]
    public async Task Blob_files_deleted_or_rotten_on_a_follower_and_on_the_origin_are_never_served_as_good_and_are_repaired_from_a_peer()
    {
        var seedPort = Loopback.FreePort();
        // Only n3 scrubs often: the damage on n1 and n2 must still be there when the deep verify looks.
        var n1 = Start("n1", "hocon/local/node1.conf", seedPort, seedPort, SlowScrub);
        var n2 = Start("n2", "hocon/local/node2.conf", Loopback.FreePort(), seedPort, SlowScrub);
        var n3 = Start("n3", "hocon/local/node3.conf", Loopback.FreePort(), seedPort, FastScrub);
        foreach (var node in new[] { n1, n2, n3 }) await Client.Healthy(node);
        for (var i = 0; i < 10; i++) await Write(n1, i);
        await Converged(n1, n2, n3);

        // A follower loses a file; the origin's file of another blob rots in place (same size, other bytes).
        File.Delete(BlobFile(n2, 0));
        var rotten = BlobFile(n1, 1);
        await File.WriteAllBytesAsync(rotten, TestData.Blob(999, BlobBytes));

        var before = await NodeCli.RunAsync([.. NodeCli.Verify([n1, n2, n3]), "--deep"]);
        Output.WriteLine($"verify --deep before repair: {before}");
        Assert.Equal(1, before.ExitCode);
        // No read returns the rotten bytes as a complete success (the repair the verify began may win the race).
        await AssertNotServedAsGood(n1, 1);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Loopback.Eventually(async () =>
        {
            Assert.Equal(TestData.Blob(0, BlobBytes), await File.ReadAllBytesAsync(BlobFile(n2, 0)));
            Assert.Equal(TestData.Blob(1, BlobBytes), await File.ReadAllBytesAsync(rotten));
        }, TimeSpan.FromSeconds(60));
        Output.WriteLine($"both blobs repaired {clock.Elapsed.TotalSeconds:F2} s after the deep verify reported them");
        var after = await NodeCli.RunAsync([.. NodeCli.Verify([n1, n2, n3]), "--deep"]);
        Assert.True(after.ExitCode == 0, after.ToString());
        Assert.Equal(TestData.Blob(1, BlobBytes), await Client.GetByteArrayAsync(BlobUrl(n1, 1)));

        // Damage nobody reads or verifies: the scrub finds it within its interval, and the peers' copies repair it.
        var unread = BlobFile(n3, 5);
        await File.WriteAllBytesAsync(unread, TestData.Blob(998, BlobBytes));
        File.Delete(BlobFile(n3, 6));
        clock.Restart();
        await Loopback.Eventually(async () =>
        {
            Assert.Equal(TestData.Blob(5, BlobBytes), await File.ReadAllBytesAsync(unread));
            Assert.Equal(TestData.Blob(6, BlobBytes), await File.ReadAllBytesAsync(BlobFile(n3, 6)));
        }, TimeSpan.FromSeconds(30));
        Output.WriteLine($"found by the scrub (interval {ScrubInterval}) and repaired {clock.Elapsed.TotalSeconds:F2} s after the damage");
        Assert.True((await NodeCli.RunAsync([.. NodeCli.Verify([n1, n2, n3]), "--deep"])).ExitCode == 0);
    }

    /// <summary>A GET of a rotten blob may fail or be cut short, but never be a complete 200 of the wrong bytes.</summary>
    private async Task AssertNotServedAsGood(NodeProcess node, int i)
    {
        try
        {
            var response = await Client.GetAsync(BlobUrl(node, i));
            if (response.StatusCode != HttpStatusCode.OK) return;
            var body = await response.Content.ReadAsByteArrayAsync();
            Assert.Equal(TestData.Blob(i, BlobBytes), body); // repaired already: then only the right bytes
        }
        catch (HttpRequestException e)
        {
            Output.WriteLine($"GET of the rotten blob cut short, as it must be: {e.Message}");
        }
    }

    [Fact]
    public async Task A_blob_lost_at_its_origin_before_anyone_had_it_is_reported_lost_everywhere_and_holds_no_cursor()
    {
        var seedPort = Loopback.FreePort();
        var n1 = Start("n1", "hocon/local/node1.conf", seedPort, seedPort);
        await Client.Healthy(n1);
        for (var i = 0; i < 20; i++) await Write(n1, i);
        File.Delete(BlobFile(n1, 9));

        var n2 = Start("n2", "hocon/local/node2.conf", Loopback.FreePort(), seedPort);
        await Client.Healthy(n2);
        var lastOfN1 = (await Client.Status(n1)).GetProperty("lastSequence").GetInt64();
        var n1Id = await Client.NodeId(n1);
        await Loopback.Eventually(async () =>
        {
            // The follower's cursor passes the lost blob: nothing waits for bytes no member has.
            Assert.Equal(lastOfN1, NodeApi.PersistedCursorFor(await Client.Status(n2), n1Id));
            foreach (var node in new[] { n1, n2 })
            {
                var response = await Client.GetAsync(BlobUrl(node, 9));
                Assert.Equal(HttpStatusCode.Gone, response.StatusCode);
                Assert.Contains("is lost", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
                Assert.Equal(1, (await Client.Status(node)).GetProperty("blobRepair").GetProperty("lost").GetInt32());
            }
        }, TimeSpan.FromSeconds(90));
        for (var i = 0; i < 20; i++)
            if (i != 9) Assert.Equal(TestData.Blob(i, BlobBytes), await Client.GetByteArrayAsync(BlobUrl(n2, i)));
        var verify = await NodeCli.RunAsync([.. NodeCli.Verify([n1, n2]), "--deep"]);
        Assert.Equal(1, verify.ExitCode); // a lost blob is reported, never silently skipped
        Assert.Contains("lost", verify.Output);
    }

    [Fact]
    public async Task A_node_restored_under_its_node_id_from_an_empty_or_an_older_data_dir_gets_back_all_it_wrote_and_its_new_writes_reach_its_peers()
    {
        var seedPort = Loopback.FreePort();
        var n2Port = Loopback.FreePort();
        var n1 = Start("n1", "hocon/local/node1.conf", seedPort, seedPort);
        var n2 = Start("n2", "hocon/local/node2.conf", n2Port, seedPort, "cluster-node.node-id = \"restored\"");
        foreach (var node in new[] { n1, n2 }) await Client.Healthy(node);
        for (var i = 0; i < 20; i++) await Write(n2, i);
        await Converged(n1, n2);

        // The disk is replaced: an empty data-dir under the same node id.
        n2 = await Restart(n2, n2Port, seedPort, wipe: true);
        await HasAll(n2, 0, 20);
        for (var i = 20; i < 25; i++) await Write(n2, i);
        await HasAll(n1, 20, 25);

        // A copy taken now, then more writes, then the copy restored: the writes after it come back from n1.
        await n2.StopAsync();
        var backup = Path.Combine(Root, "n2-backup");
        CopyDirectory(DataDir("n2"), backup);
        n2 = await Restart(n2, n2Port, seedPort, wipe: false, alreadyStopped: true);
        for (var i = 25; i < 30; i++) await Write(n2, i);
        await HasAll(n1, 25, 30);
        await n2.StopAsync();
        Directory.Delete(DataDir("n2"), recursive: true);
        CopyDirectory(backup, DataDir("n2"));
        n2 = await Restart(n2, n2Port, seedPort, wipe: false, alreadyStopped: true);
        await HasAll(n2, 0, 30);
        for (var i = 30; i < 35; i++) await Write(n2, i);
        await HasAll(n1, 30, 35);
        var verify = await NodeCli.RunAsync([.. NodeCli.Verify([n1, n2]), "--deep"]);
        Assert.True(verify.ExitCode == 0, verify.ToString());
    }

    private async Task<NodeProcess> Restart(NodeProcess node, int akkaPort, int seedPort, bool wipe, bool alreadyStopped = false)
    {
        if (!alreadyStopped) await node.StopAsync();
        Nodes.Remove(node);
        if (wipe) Directory.Delete(node.Launch.DataDirectory, recursive: true);
        var restarted = NodeProcess.Start(node.Launch with { AkkaPort = akkaPort, SeedPorts = [seedPort] }, Output);
        Nodes.Add(restarted);
        await Client.Healthy(restarted);
        return restarted;
    }

    private async Task HasAll(NodeProcess node, int from, int to) =>
        await Loopback.Eventually(async () =>
        {
            for (var i = from; i < to; i++)
            {
                var response = await Client.GetAsync(BlobUrl(node, i));
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"{node.Name} record {i}: {(int)response.StatusCode}");
                Assert.Equal(TestData.Blob(i, BlobBytes), await response.Content.ReadAsByteArrayAsync());
            }
        }, TimeSpan.FromSeconds(90));

    /// <summary>Every record and every blob's bytes on every node (a plain verify compares records and hashes only).</summary>
    private async Task Converged(params NodeProcess[] nodes) =>
        await Loopback.Eventually(async () => Assert.Equal(0, (await NodeCli.RunAsync([.. NodeCli.Verify(nodes), "--deep"])).ExitCode), TimeSpan.FromSeconds(90));

    private async Task Write(NodeProcess node, int i)
    {
        Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(new Uri(node.Url, $"tables/photos/records/{TestData.Id(i)}"), NodeApi.Json($$"""{"n":{{i}}}"""))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(BlobUrl(node, i), new ByteArrayContent(TestData.Blob(i, BlobBytes)))).StatusCode);
    }

    private static Uri BlobUrl(NodeProcess node, int i) => new(node.Url, $"tables/photos/records/{TestData.Id(i)}/blobs/image");

    /// <summary>The file that holds record <paramref name="i"/>'s blob on <paramref name="node"/>: found by its bytes' hash.</summary>
    private static string BlobFile(NodeProcess node, int i)
    {
        var sha = SHA256.HashData(TestData.Blob(i, BlobBytes));
        return Directory.EnumerateFiles(Path.Combine(node.Launch.DataDirectory, "blobs"))
            .Single(f => SHA256.HashData(File.ReadAllBytes(f)).AsSpan().SequenceEqual(sha));
    }

    private string DataDir(string name) => Path.Combine(Root, name);

    private static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories)) Directory.CreateDirectory(dir.Replace(from, to));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories)) File.Copy(file, file.Replace(from, to), overwrite: true);
    }

    private NodeProcess Start(string name, string hocon, int akkaPort, int seedPort, params string[] settings)
    {
        var node = NodeProcess.Start(new NodeLaunch(name, hocon, DataDir(name), akkaPort, Loopback.FreePort(), [seedPort])
        {
            Settings = ["cluster-node.repair.timeout = 2s", "cluster-node.repair.lost-retry-interval = 5s", .. settings],
        }, Output);
        Nodes.Add(node);
        return node;
    }
}
