using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Node;
using ClusterNode.Node.Http;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;

namespace ClusterNode.Tests.Node;

/// <summary>
/// A batch with its blobs in one request (<c>POST /tables/{table}/records</c> as multipart/form-data: a part
/// <c>records</c>, then a part <c>{id}/{field}</c> per blob), through the real HTTP API of a real node: every record
/// and every blob byte is stored, or, when any part is bad, nothing is: no record, no blob, no file left behind.
/// </summary>
public sealed class MultipartBatchSpec : InProcessNodeSpec
{
    public MultipartBatchSpec() : base("multipart-batch", TimeSpan.FromSeconds(60)) { }

    [Fact]
    public async Task A_batch_with_blobs_stores_every_record_and_every_blob_byte_for_byte()
    {
        var node = await Start();
        // An existing record: its data is replaced, the blob the batch names replaced, the other one kept.
        var kept = TestData.Blob(90, 5_000);
        Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(Url(node, "/tables/t/records/r-1/blobs/kept"), new ByteArrayContent(kept))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(Url(node, "/tables/t/records/r-1/blobs/photo"), new ByteArrayContent(TestData.Blob(91, 7_000)))).StatusCode);
        var before = node.Host.Store.LastSequence;
        var ids = Enumerable.Range(0, 20).Select(i => $"r-{i}").ToArray();
        var blobs = new Dictionary<string, byte[]>();
        using var form = new MultipartFormDataContent
        {
            { new StringContent(string.Join("\n", ids.Select((id, i) => $$$"""{"id":"{{{id}}}","data":{"n":{{{i}}},"s":"\u00e9"}}""")), Encoding.UTF8, "application/x-ndjson"), "records" },
        };
        for (var i = 0; i < ids.Length; i++)
        {
            if (i % 5 == 3) continue; // some records carry no blob
            blobs[$"{ids[i]}/photo"] = TestData.Blob(i, 30_000 + i * 1_000);
            if (i % 4 == 0) blobs[$"{ids[i]}/thumb"] = TestData.Blob(100 + i, i); // r-0/thumb is empty
        }
        foreach (var (name, bytes) in blobs) form.Add(new ByteArrayContent(bytes), name, "file.bin");

        var response = await Client.PostAsync(Url(node, "/tables/t/records"), form);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answered = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("records").EnumerateArray().ToList();
        Assert.Equal(ids, answered.Select(a => a.GetProperty("id").GetString()));
        // One atomic write: one audit entry per record, consecutive, in request order.
        Assert.Equal(Enumerable.Range(1, ids.Length).Select(i => before + i), answered.Select(a => a.GetProperty("sequence").GetInt64()));
        Assert.Equal(before + ids.Length, node.Host.Store.LastSequence);
        for (var i = 0; i < ids.Length; i++)
        {
            var record = await Client.GetFromJsonAsync<JsonElement>(Url(node, $"/tables/t/records/{ids[i]}"));
            Assert.Equal(answered[i].GetProperty("version").GetString(), record.GetProperty("version").GetString());
            Assert.Equal(i, record.GetProperty("data").GetProperty("n").GetInt32());
            Assert.Equal("\u00e9", record.GetProperty("data").GetProperty("s").GetString());
            var expected = blobs.Keys.Where(k => k.StartsWith(ids[i] + "/", StringComparison.Ordinal)).Select(k => k[(ids[i].Length + 1)..]);
            if (ids[i] == "r-1") expected = expected.Append("kept");
            Assert.Equal(expected.Order(StringComparer.Ordinal), record.GetProperty("blobs").EnumerateObject().Select(p => p.Name));
        }
        foreach (var (name, bytes) in blobs)
        {
            var (id, field) = (name[..name.IndexOf('/')], name[(name.IndexOf('/') + 1)..]);
            using var read = await Client.GetAsync(Url(node, $"/tables/t/records/{id}/blobs/{field}"));
            Assert.Equal(HttpStatusCode.OK, read.StatusCode);
            Assert.Equal(bytes, await read.Content.ReadAsByteArrayAsync());
            Assert.Equal($"sha-256=:{Convert.ToBase64String(SHA256.HashData(bytes))}:", Assert.Single(read.Headers.GetValues("Repr-Digest")));
        }
        Assert.Equal(kept, await Client.GetByteArrayAsync(Url(node, "/tables/t/records/r-1/blobs/kept")));
    }

    [Fact]
    public async Task The_records_part_may_be_a_json_array_and_records_without_blobs_keep_theirs()
    {
        var node = await Start();
        var old = TestData.Blob(7, 2_000);
        Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(Url(node, "/tables/t/records/a/blobs/old"), new ByteArrayContent(old))).StatusCode);
        var photo = TestData.Blob(8, 70_000);
        // No Content-Type on the records part (curl -F 'records=<file' sends none): told by its first character.
        var records = new ByteArrayContent("""[{"id":"a","data":{"v":2}},{"id":"b","data":{"v":3}}]"""u8.ToArray());
        using var form = new MultipartFormDataContent { { records, "records" }, { new ByteArrayContent(photo), "b/photo" } };

        var response = await Client.PostAsync(Url(node, "/tables/t/records"), form);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var a = await Client.GetFromJsonAsync<JsonElement>(Url(node, "/tables/t/records/a"));
        Assert.Equal(2, a.GetProperty("data").GetProperty("v").GetInt32());
        Assert.Equal(old, await Client.GetByteArrayAsync(Url(node, "/tables/t/records/a/blobs/old")));
        Assert.Equal(photo, await Client.GetByteArrayAsync(Url(node, "/tables/t/records/b/blobs/photo")));
    }

    [Theory]
    [InlineData("NORECORDS", "the first part must be named records")]
    [InlineData("BADITEM", "item 1 (id r-1)")]
    [InlineData("r-9/photo", "part r-9/photo: no record r-9")]
    [InlineData("r-1/bad field", "part r-1/bad field")]
    [InlineData("r-1", "part r-1: a blob part is named {id}/{field}")]
    [InlineData("r-0/photo", "part r-0/photo: the blob is there twice")]
    [InlineData("r-2/huge", "part r-2/huge: blob is over cluster-node.blob.max-size")]
    [InlineData("r-2/many", "part r-2/many: more than cluster-node.http.max-batch-blobs")]
    [InlineData("TOOMANYBYTES", "over cluster-node.http.max-batch-blob-bytes")]
    public async Task A_batch_with_one_bad_part_writes_nothing_names_the_part_and_leaves_no_file(string badPart, string named)
    {
        var node = await Start("cluster-node.blob.max-size = 100 KiB", new HttpSettings("127.0.0.1", 0) { MaxBatchBlobs = 6, MaxBatchBlobBytes = 400_000 });
        Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(Url(node, "/tables/t/records/r-0"), new StringContent("""{"v":1}"""))).StatusCode);
        var before = node.Host.Store.LastSequence;
        var blobsDirectory = node.Host.Store.Blobs.Directory;
        var filesBefore = Directory.GetFiles(blobsDirectory, "*", SearchOption.AllDirectories).Order().ToArray();
        var items = badPart == "BADITEM" ? """[{"id":"r-0","data":{"v":2}},{"id":"r-1","data":[1]},{"id":"r-2","data":{}}]"""
            : """[{"id":"r-0","data":{"v":2}},{"id":"r-1","data":{}},{"id":"r-2","data":{}}]""";
        using var form = new MultipartFormDataContent();
        if (badPart == "NORECORDS") form.Add(new ByteArrayContent(TestData.Blob(1, 1_000)), "r-0/photo");
        form.Add(new StringContent(items, Encoding.UTF8, "application/json"), "records");
        // Good parts before the bad one: their files are already written when it is found.
        form.Add(new ByteArrayContent(TestData.Blob(2, 60_000)), "r-0/photo");
        form.Add(new ByteArrayContent(TestData.Blob(3, 60_000)), "r-1/photo");
        switch (badPart)
        {
            case "r-2/huge": form.Add(new ByteArrayContent(TestData.Blob(4, 200_000)), badPart); break;
            case "r-2/many":
                for (var i = 0; i < 4; i++) form.Add(new ByteArrayContent(TestData.Blob(10 + i, 10)), $"r-{i % 3}/f{i}");
                form.Add(new ByteArrayContent(TestData.Blob(4, 10)), badPart); // the 7th blob part, over 6
                break;
            case "TOOMANYBYTES":
                for (var i = 0; i < 4; i++) form.Add(new ByteArrayContent(TestData.Blob(10 + i, 90_000)), $"r-2/f{i}");
                break;
            case "NORECORDS" or "BADITEM": break;
            default: form.Add(new ByteArrayContent(TestData.Blob(4, 1_000)), badPart); break;
        }
        form.Add(new ByteArrayContent(TestData.Blob(5, 1_000)), "r-2/after");

        var response = await Client.PostAsync(Url(node, "/tables/t/records"), form);

        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge, response.StatusCode.ToString());
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;
        Assert.Contains(named, error);
        Assert.Contains("nothing of the batch was written", error);
        Assert.Equal(before, node.Host.Store.LastSequence);
        var r0 = await Client.GetFromJsonAsync<JsonElement>(Url(node, "/tables/t/records/r-0"));
        Assert.Equal(1, r0.GetProperty("data").GetProperty("v").GetInt32());
        Assert.Empty(r0.GetProperty("blobs").EnumerateObject());
        foreach (var id in new[] { "r-1", "r-2" })
            Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync(Url(node, $"/tables/t/records/{id}"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync(Url(node, "/tables/t/records/r-0/blobs/photo"))).StatusCode);
        Assert.Equal(filesBefore, Directory.GetFiles(blobsDirectory, "*", SearchOption.AllDirectories).Order().ToArray());
    }

    [Fact]
    public async Task A_batch_the_store_refuses_leaves_no_blob_file_behind()
    {
        var node = await Start();
        // Data within record.max-size but a record over the frame limit: refused by the store after the blobs were durable.
        node.Host.Store.Limits = node.Host.Store.Limits with { MaxFrameBytes = 1000 };
        var before = node.Host.Store.LastSequence;
        var blobsDirectory = node.Host.Store.Blobs.Directory;
        var filesBefore = Directory.GetFiles(blobsDirectory, "*", SearchOption.AllDirectories).Length;
        using var form = new MultipartFormDataContent
        {
            { new StringContent($$$"""[{"id":"ok","data":{}},{"id":"huge","data":{"x":"{{{new string('a', 2000)}}}"}}]""", Encoding.UTF8, "application/json"), "records" },
            { new ByteArrayContent(TestData.Blob(1, 500)), "ok/photo" },
            { new ByteArrayContent(TestData.Blob(2, 500)), "huge/photo" },
        };

        var response = await Client.PostAsync(Url(node, "/tables/t/records"), form);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("item 1 (id huge)", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        Assert.Equal(before, node.Host.Store.LastSequence);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync(Url(node, "/tables/t/records/ok"))).StatusCode);
        Assert.Equal(filesBefore, Directory.GetFiles(blobsDirectory, "*", SearchOption.AllDirectories).Length);
    }

    [Fact]
    public async Task A_batch_body_cut_short_writes_nothing_and_leaves_no_file()
    {
        var node = await Start();
        var before = node.Host.Store.LastSequence;
        var body = "--xyz\r\nContent-Disposition: form-data; name=\"records\"\r\n\r\n[{\"id\":\"a\",\"data\":{}}]\r\n" +
                   "--xyz\r\nContent-Disposition: form-data; name=\"a/photo\"\r\n\r\nsome bytes but no closing boundary";
        var content = new StringContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=xyz");

        var response = await Client.PostAsync(Url(node, "/tables/t/records"), content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("part a/photo: the multipart body is malformed", await response.Content.ReadAsStringAsync());
        Assert.Equal(before, node.Host.Store.LastSequence);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync(Url(node, "/tables/t/records/a"))).StatusCode);
        Assert.Empty(Directory.GetFiles(node.Host.Store.Blobs.Directory, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public void The_blob_bounds_of_a_batch_are_read_from_hocon_and_a_bad_one_is_refused_naming_its_key()
    {
        var defaults = HttpSettings.Create(ConfigurationFactory.Empty.WithDefaults());
        Assert.Equal((1L << 30, 1000), (defaults.MaxBatchBlobBytes, defaults.MaxBatchBlobs));
        var set = HttpSettings.Create(ConfigurationFactory.ParseString("cluster-node.http { max-batch-blob-bytes = 64 MiB, max-batch-blobs = 20 }").WithDefaults());
        Assert.Equal((64L << 20, 20), (set.MaxBatchBlobBytes, set.MaxBatchBlobs));
        foreach (var (line, key) in new[] { ("max-batch-blob-bytes = lots", "max-batch-blob-bytes"), ("max-batch-blob-bytes = 2 TiB", "max-batch-blob-bytes"), ("max-batch-blobs = 1000000", "max-batch-blobs") })
        {
            var refused = Assert.Throws<ConfigurationException>(() => HttpSettings.Create(ConfigurationFactory.ParseString($"cluster-node.http.{line}").WithDefaults()));
            Assert.Contains($"cluster-node.http.{key}", refused.Message);
        }
    }

    private Task<(NodeHost Host, HttpServer Http)> Start(string extra = "", HttpSettings? settings = null) =>
        StartNode($"n{Started}", Loopback.FreePort(), seed: null, extra, settings);
}
