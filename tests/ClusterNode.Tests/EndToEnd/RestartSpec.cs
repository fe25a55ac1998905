using System.Net;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.EndToEnd;

/// <summary>
/// A member killed (SIGKILL) and started again on its data while the cluster took writes: it is an Up member again
/// (its old incarnation at the same address gives way) and has every byte written while it was down. How fast is
/// the bench's business (bench part `startup`, line 9c); here only that it happens, within generous limits.
/// </summary>
public sealed class RestartSpec : NodeProcessSpec
{
    private const int BlobBytes = 50 * 1024;

    public RestartSpec(ITestOutputHelper output) : base("restart", output, TimeSpan.FromSeconds(30)) { }

    [Fact]
    public async Task A_killed_member_started_again_is_Up_and_holds_every_write_made_while_it_was_down()
    {
        var seedPort = Loopback.FreePort();
        var bPort = Loopback.FreePort();
        var a = Start("a", "hocon/local/node1.conf", seedPort, seedPort);
        await Client.Healthy(a);
        var b = Start("b", "hocon/local/node2.conf", bPort, seedPort);
        await Client.Healthy(b);
        var aId = await Client.NodeId(a);
        for (var i = 0; i < 20; i++) await PutBlob(a, $"before-{i}", i);
        var lastOfA = (await Client.Status(a)).GetProperty("lastSequence").GetInt64();
        await Loopback.Eventually(async () => Assert.Equal(lastOfA, NodeApi.PersistedCursorFor(await Client.Status(b), aId)));

        for (var round = 0; round < 2; round++)
        {
            await b.KillAsync();
            Nodes.Remove(b);
            for (var i = 0; i < 10; i++) await PutBlob(a, $"down-{round}-{i}", 100 * (round + 1) + i);
            lastOfA = (await Client.Status(a)).GetProperty("lastSequence").GetInt64();

            b = Start("b", "hocon/local/node2.conf", bPort, seedPort, b.HttpPort);
            await Client.Healthy(b);
            await Loopback.Eventually(async () => Assert.Equal(lastOfA, NodeApi.PersistedCursorFor(await Client.Status(b), aId)));
            // One member at B's address, the new incarnation, Up on both sides.
            await Loopback.Eventually(async () =>
            {
                Assert.Equal(2, NodeApi.UpMembers(await Client.Status(a)).Count);
                Assert.Equal(2, NodeApi.UpMembers(await Client.Status(b)).Count);
                Assert.Equal(2, (await Client.Status(a)).GetProperty("members").GetArrayLength());
            });
            for (var i = 0; i < 10; i++)
            {
                var response = await Client.GetAsync(new Uri(b.Url, $"tables/photos/records/down-{round}-{i}/blobs/image"));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(TestData.Blob(100 * (round + 1) + i, BlobBytes), await response.Content.ReadAsByteArrayAsync());
            }
        }
    }

    private async Task PutBlob(NodeProcess node, string id, int seed)
    {
        var response = await Client.PutAsync(new Uri(node.Url, $"tables/photos/records/{id}/blobs/image"), new ByteArrayContent(TestData.Blob(seed, BlobBytes)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
