using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.EndToEnd;

/// <summary>
/// A batch with blobs (one multipart POST) on real node processes: what it wrote on A arrives on B byte for byte, and
/// once answered 200 every record and blob of it is there after a SIGKILL right after the answer.
/// </summary>
public sealed class MultipartBatchEndToEndSpec : NodeProcessSpec
{
    public MultipartBatchEndToEndSpec(ITestOutputHelper output) : base("multipart-batch-e2e", output, TimeSpan.FromSeconds(60)) { }

    [Fact]
    public async Task A_batch_with_blobs_written_on_A_replicates_to_B_byte_for_byte()
    {
        var seedPort = Loopback.FreePort();
        var a = Start("a", "hocon/local/node1.conf", seedPort, seedPort);
        await Client.Healthy(a);
        var b = Start("b", "hocon/local/node2.conf", Loopback.FreePort(), seedPort);
        await Client.Healthy(b);
        var (form, blobs) = Batch(40);

        using var response = await Client.PostAsync(new Uri(a.Url, "tables/photos/records"), form);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var aDigest = await Client.GetStringAsync(new Uri(a.Url, "tables/photos/digest"));
        await Loopback.Eventually(async () => Assert.Equal(aDigest, await Client.GetStringAsync(new Uri(b.Url, "tables/photos/digest"))), TimeSpan.FromSeconds(60));
        foreach (var (id, bytes) in blobs)
            await Loopback.Eventually(async () => Assert.Equal(bytes, await Client.GetByteArrayAsync(new Uri(b.Url, $"tables/photos/records/{id}/blobs/image"))));
    }

    [Fact]
    public async Task A_batch_with_blobs_answered_200_is_all_there_after_a_SIGKILL_right_after_the_answer()
    {
        var port = Loopback.FreePort();
        var a = Start("a", "hocon/local/node1.conf", port, port);
        await Client.Healthy(a);
        var (form, blobs) = Batch(60);

        var response = await Client.PostAsync(new Uri(a.Url, "tables/photos/records"), form);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await a.KillAsync();
        var answered = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("records").EnumerateArray()
            .ToDictionary(r => r.GetProperty("id").GetString()!, r => r.GetProperty("version").GetString());
        Nodes.Remove(a);

        a = Start("a", "hocon/local/node1.conf", port, port, a.HttpPort);
        await Client.Healthy(a);
        var digest = await Client.GetFromJsonAsync<JsonElement>(new Uri(a.Url, "tables/photos/digest"));
        Assert.Equal(answered.OrderBy(p => p.Key), digest.EnumerateArray().ToDictionary(r => r.GetProperty("id").GetString()!, r => r.GetProperty("version").GetString()).OrderBy(p => p.Key));
        foreach (var (id, bytes) in blobs)
            Assert.Equal(bytes, await Client.GetByteArrayAsync(new Uri(a.Url, $"tables/photos/records/{id}/blobs/image")));
    }

    /// <summary>A multipart batch of <paramref name="count"/> records, each with a blob "image" of its own bytes.</summary>
    private static (MultipartFormDataContent Form, Dictionary<string, byte[]> Blobs) Batch(int count)
    {
        var blobs = Enumerable.Range(0, count).ToDictionary(TestData.Id, i => TestData.Blob(i, 20_000 + 997 * i));
        var records = string.Join("\n", blobs.Keys.Select((id, i) => $$$"""{"id":"{{{id}}}","data":{"n":{{{i}}}}}"""));
        var form = new MultipartFormDataContent { { new StringContent(records, Encoding.UTF8, "application/x-ndjson"), "records" } };
        foreach (var (id, bytes) in blobs) form.Add(new ByteArrayContent(bytes), $"{id}/image");
        return (form, blobs);
    }
}
