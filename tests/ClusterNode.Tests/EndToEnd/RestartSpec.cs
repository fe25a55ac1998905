using System.Net;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.EndToEnd;

/// <summary>
/// A member killed (SIGKILL) and started again on its data while the cluster took writes: it is an Up member again
/// (its old incarnation at the same address gives way) and has every byte written while it was down. How fast is
/// the bench's business (bench part `startup`, line 7c); here only that it happens, within generous limits.
/// </summary>
public sealed class RestartSpec : IAsyncLifetime
{
    private const int BlobBytes = 50 * 1024;
    private readonly ITestOutputHelper _output;
    private readonly string _root = TestData.TempDirectory("restart");
    private readonly List<NodeProcess> _nodes = new();
    private readonly HttpClient _client = new() { Timeout = TimeSpan.FromSeconds(30) };

    public RestartSpec(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task A_killed_member_started_again_is_Up_and_holds_every_write_made_while_it_was_down()
    {
        var seedPort = Loopback.FreePort();
        var bPort = Loopback.FreePort();
        var a = Start("a", "hocon/local/node1.conf", seedPort, seedPort);
        await _client.Healthy(a);
        var b = Start("b", "hocon/local/node2.conf", bPort, seedPort);
        await _client.Healthy(b);
        var aId = await _client.NodeId(a);
        for (var i = 0; i < 20; i++) await PutBlob(a, $"before-{i}", i);
        var lastOfA = (await _client.Status(a)).GetProperty("lastSequence").GetInt64();
        await Loopback.Eventually(async () => Assert.Equal(lastOfA, NodeApi.PersistedCursorFor(await _client.Status(b), aId)));

        for (var round = 0; round < 2; round++)
        {
            await b.KillAsync();
            _nodes.Remove(b);
            for (var i = 0; i < 10; i++) await PutBlob(a, $"down-{round}-{i}", 100 * (round + 1) + i);
            lastOfA = (await _client.Status(a)).GetProperty("lastSequence").GetInt64();

            b = Start("b", "hocon/local/node2.conf", bPort, seedPort, b.HttpPort);
            await _client.Healthy(b);
            await Loopback.Eventually(async () => Assert.Equal(lastOfA, NodeApi.PersistedCursorFor(await _client.Status(b), aId)));
            // One member at B's address, the new incarnation, Up on both sides.
            await Loopback.Eventually(async () =>
            {
                Assert.Equal(2, NodeApi.UpMembers(await _client.Status(a)).Count);
                Assert.Equal(2, NodeApi.UpMembers(await _client.Status(b)).Count);
                Assert.Equal(2, (await _client.Status(a)).GetProperty("members").GetArrayLength());
            });
            for (var i = 0; i < 10; i++)
            {
                var response = await _client.GetAsync(new Uri(b.Url, $"tables/photos/records/down-{round}-{i}/blobs/image"));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(TestData.Blob(100 * (round + 1) + i, BlobBytes), await response.Content.ReadAsByteArrayAsync());
            }
        }
    }

    private async Task PutBlob(NodeProcess node, string id, int seed)
    {
        var response = await _client.PutAsync(new Uri(node.Url, $"tables/photos/records/{id}/blobs/image"), new ByteArrayContent(TestData.Blob(seed, BlobBytes)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private NodeProcess Start(string name, string hocon, int akkaPort, int seedPort, int? httpPort = null)
    {
        var node = NodeProcess.Start(name, hocon, Path.Combine(_root, name), akkaPort, seedPort, _output, httpPort);
        _nodes.Add(node);
        return node;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes) await node.DisposeAsync();
        _client.Dispose();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
