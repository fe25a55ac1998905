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
/// Batches, batches with blobs and multipart writes on real node processes: what a batch wrote on A arrives on B byte
/// for byte, and a batch answered 200 is all there, blobs included, after a SIGKILL right after the answer.
/// </summary>
public sealed class BatchEndToEndSpec : NodeProcessSpec
{
    public BatchEndToEndSpec(ITestOutputHelper output) : base("batch-e2e", output, TimeSpan.FromSeconds(60)) { }

    [Fact]
    public async Task A_batch_and_a_multipart_record_written_on_A_replicate_to_B_byte_for_byte()
    {
        var seedPort = Loopback.FreePort();
        var a = Start("a", "hocon/local/node1.conf", seedPort, seedPort);
        await Client.Healthy(a);
        var b = Start("b", "hocon/local/node2.conf", Loopback.FreePort(), seedPort);
        await Client.Healthy(b);
        var ndjson = string.Join("\n", Enumerable.Range(0, 1_000).Select(i => $$$"""{"id":"{{{TestData.Id(i)}}}","data":{"n":{{{i}}},"s":"\u00e9 {{{i}}}","list":[{{{i}}}, 2.50, true, null]}}"""));
        var photo = TestData.Blob(5, 200_000);
        using var form = new MultipartFormDataContent
        {
            { new StringContent("""{"kind":"with blobs"}"""), "data" },
            { new ByteArrayContent(photo), "photo" },
        };

        var batch = await Client.PostAsync(new Uri(a.Url, "tables/events/records"), new StringContent(ndjson, Encoding.UTF8, "application/x-ndjson"));
        var multipart = await Client.PutAsync(new Uri(a.Url, "tables/events/records/with-blob"), form);

        Assert.Equal(HttpStatusCode.OK, batch.StatusCode);
        Assert.Equal(HttpStatusCode.OK, multipart.StatusCode);
        var aDigest = await Client.GetStringAsync(new Uri(a.Url, "tables/events/digest"));
        await Loopback.Eventually(async () => Assert.Equal(aDigest, await Client.GetStringAsync(new Uri(b.Url, "tables/events/digest"))), TimeSpan.FromSeconds(60));
        foreach (var id in Enumerable.Range(0, 1_000).Where(i => i % 97 == 0).Select(TestData.Id).Append("with-blob"))
            Assert.Equal(await Client.GetStringAsync(new Uri(a.Url, $"tables/events/records/{id}")), await Client.GetStringAsync(new Uri(b.Url, $"tables/events/records/{id}")));
        await Loopback.Eventually(async () => Assert.Equal(photo, await Client.GetByteArrayAsync(new Uri(b.Url, "tables/events/records/with-blob/blobs/photo"))));
    }

    [Fact]
    public async Task A_batch_answered_200_is_all_there_after_a_SIGKILL_right_after_the_answer()
    {
        var items = Enumerable.Range(0, 2_000).Select(i => new { id = TestData.Id(i), data = new { n = i } }).ToArray();

        var (_, answered, stored) = await PostThenKillAndRestart("crash", JsonContent.Create(items));

        Assert.Equal(answered.OrderBy(p => p.Key), stored.OrderBy(p => p.Key));
    }

    [Fact]
    public async Task A_batch_with_blobs_written_on_A_replicates_to_B_byte_for_byte()
    {
        var seedPort = Loopback.FreePort();
        var a = Start("a", "hocon/local/node1.conf", seedPort, seedPort);
        await Client.Healthy(a);
        var b = Start("b", "hocon/local/node2.conf", Loopback.FreePort(), seedPort);
        await Client.Healthy(b);
        var (form, blobs) = BatchWithBlobs(40);

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
        var (form, blobs) = BatchWithBlobs(60);

        var (a, answered, stored) = await PostThenKillAndRestart("photos", form);

        Assert.Equal(answered.OrderBy(p => p.Key), stored.OrderBy(p => p.Key));
        foreach (var (id, bytes) in blobs)
            Assert.Equal(bytes, await Client.GetByteArrayAsync(new Uri(a.Url, $"tables/photos/records/{id}/blobs/image")));
    }

    /// <summary>
    /// Posts <paramref name="batch"/> to a single node, SIGKILLs it as soon as it answered 200, starts it again on its
    /// data: the versions the answer gave and the ones the restarted node holds, by id.
    /// </summary>
    private async Task<(NodeProcess Node, Dictionary<string, string?> Answered, Dictionary<string, string?> Stored)> PostThenKillAndRestart(string table, HttpContent batch)
    {
        var port = Loopback.FreePort();
        var a = Start("a", "hocon/local/node1.conf", port, port);
        await Client.Healthy(a);
        var response = await Client.PostAsync(new Uri(a.Url, $"tables/{table}/records"), batch);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await a.KillAsync();
        var answered = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("records").EnumerateArray()
            .ToDictionary(r => r.GetProperty("id").GetString()!, r => r.GetProperty("version").GetString());
        Nodes.Remove(a);

        a = Start("a", "hocon/local/node1.conf", port, port, a.HttpPort);
        await Client.Healthy(a);
        var digest = await Client.GetFromJsonAsync<JsonElement>(new Uri(a.Url, $"tables/{table}/digest"));
        return (a, answered, digest.EnumerateArray().ToDictionary(r => r.GetProperty("id").GetString()!, r => r.GetProperty("version").GetString()));
    }

    /// <summary>A multipart batch of <paramref name="count"/> records, each with a blob "image" of its own bytes.</summary>
    private static (MultipartFormDataContent Form, Dictionary<string, byte[]> Blobs) BatchWithBlobs(int count)
    {
        var blobs = Enumerable.Range(0, count).ToDictionary(TestData.Id, i => TestData.Blob(i, 20_000 + 997 * i));
        var records = string.Join("\n", blobs.Keys.Select((id, i) => $$$"""{"id":"{{{id}}}","data":{"n":{{{i}}}}}"""));
        var form = new MultipartFormDataContent { { new StringContent(records, Encoding.UTF8, "application/x-ndjson"), "records" } };
        foreach (var (id, bytes) in blobs) form.Add(new ByteArrayContent(bytes), $"{id}/image");
        return (form, blobs);
    }
}
