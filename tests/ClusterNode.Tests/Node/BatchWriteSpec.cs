using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using ClusterNode.Node;
using ClusterNode.Node.Http;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;

namespace ClusterNode.Tests.Node;

/// <summary>
/// Writes of many things at once through the real HTTP API of a real node: batches (JSON array and NDJSON) write all
/// their records or none, concurrent single writes each keep their own outcome (group commit), and a record with its
/// blobs in one multipart request is stored byte for byte or not at all.
/// </summary>
public sealed class BatchWriteSpec : InProcessNodeSpec
{
    public BatchWriteSpec() : base("batch", TimeSpan.FromSeconds(60)) { }

    [Fact]
    public async Task A_json_batch_writes_every_record_with_the_versions_it_answers()
    {
        var node = await Start();
        var items = Enumerable.Range(0, 300).Select(i => new { id = TestData.Id(i), data = new { n = i, text = $"record {i} \u00e9" } }).ToArray();

        var response = await Client.PostAsync(Url(node, "/tables/events/records"), JsonContent.Create(items));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answered = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("records").EnumerateArray().ToList();
        Assert.Equal(items.Select(i => i.id), answered.Select(a => a.GetProperty("id").GetString()));
        var sequences = answered.Select(a => a.GetProperty("sequence").GetInt64()).ToList();
        Assert.Equal(Enumerable.Range(0, 300).Select(i => sequences[0] + i), sequences);
        for (var i = 0; i < items.Length; i++)
        {
            var record = await Client.GetFromJsonAsync<JsonElement>(Url(node, $"/tables/events/records/{items[i].id}"));
            Assert.Equal(answered[i].GetProperty("version").GetString(), record.GetProperty("version").GetString());
            Assert.Equal(i, record.GetProperty("data").GetProperty("n").GetInt32());
            Assert.Equal($"record {i} \u00e9", record.GetProperty("data").GetProperty("text").GetString());
        }
    }

    [Fact]
    public async Task An_ndjson_batch_writes_every_record_and_replaces_existing_data_keeping_blobs()
    {
        var node = await Start();
        var photo = TestData.Blob(3, 10_000);
        Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(Url(node, "/tables/t/records/b/blobs/photo"), new ByteArrayContent(photo))).StatusCode);
        var body = "{\"id\":\"a\",\"data\":{\"x\":1}}\n\r\n{\"id\":\"b\",\"data\":{\"x\":2, \"nested\": {\"y\": [1,2]}}}\r\n{\"id\":\"c\",\"data\":{}}";

        var response = await Client.PostAsync(Url(node, "/tables/t/records"), new StringContent(body, Encoding.UTF8, "application/x-ndjson"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answered = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("records").EnumerateArray().ToList();
        Assert.Equal(["a", "b", "c"], answered.Select(a => a.GetProperty("id").GetString()));
        var b = await Client.GetFromJsonAsync<JsonElement>(Url(node, "/tables/t/records/b"));
        Assert.Equal(answered[1].GetProperty("version").GetString(), b.GetProperty("version").GetString());
        Assert.Equal(2, b.GetProperty("data").GetProperty("nested").GetProperty("y")[1].GetInt32());
        Assert.Equal(photo, await Client.GetByteArrayAsync(Url(node, "/tables/t/records/b/blobs/photo")));
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync(Url(node, "/tables/t/records/c"))).StatusCode);
    }

    [Theory]
    [InlineData("""{"id":"bad/id","data":{}}""", "item 2")]
    [InlineData("""{"id":"r-2","data":[1]}""", "item 2 (id r-2)")]
    [InlineData("""{"id":"r-2"}""", "item 2 (id r-2)")]
    [InlineData("""{"id":"r-0","data":{}}""", "item 2 (id r-0)")]
    [InlineData("""{"id":"r-2","data":{"big":"BIG"}}""", "item 2 (id r-2)")]
    [InlineData("""{"id":"r-2","data":{},"extra":1}""", "item 2 (id r-2)")]
    [InlineData("""17""", "item 2")]
    public async Task A_batch_with_one_bad_item_in_the_middle_writes_nothing_and_names_that_item(string badItem, string named)
    {
        var node = await Start("cluster-node.record.max-size = 2 KiB");
        var before = node.Host.Store.LastSequence;
        badItem = badItem.Replace("BIG", new string('a', 3000));
        var items = new[] { """{"id":"r-0","data":{"a":0}}""", """{"id":"r-1","data":{"a":1}}""", badItem, """{"id":"r-3","data":{"a":3}}""" };

        foreach (var (content, kind) in new[]
                 {
                     (new StringContent("[" + string.Join(",", items) + "]", Encoding.UTF8, "application/json"), "json"),
                     (new StringContent(string.Join("\n", items), Encoding.UTF8, "application/x-ndjson"), "ndjson"),
                 })
        {
            var response = await Client.PostAsync(Url(node, "/tables/t/records"), content);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;
            Assert.StartsWith(named, error);
            Assert.Contains("nothing of the batch was written", error);
            Assert.True(before == node.Host.Store.LastSequence, kind);
            foreach (var id in new[] { "r-0", "r-1", "r-3" })
                Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync(Url(node, $"/tables/t/records/{id}"))).StatusCode);
        }
    }

    [Fact]
    public async Task A_record_of_a_batch_that_the_store_refuses_fails_the_whole_batch()
    {
        var node = await Start();
        // A record whose data fits record.max-size but which would not fit a replication frame: refused by the store.
        node.Host.Store.Limits = node.Host.Store.Limits with { MaxFrameBytes = 1000 };
        var before = node.Host.Store.LastSequence;
        var body = $$$"""[{"id":"ok-0","data":{}},{"id":"ok-1","data":{}},{"id":"huge","data":{"x":"{{{new string('a', 2000)}}}"}}]""";

        var response = await Client.PostAsync(Url(node, "/tables/t/records"), new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("item 2 (id huge)", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        Assert.Equal(before, node.Host.Store.LastSequence);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync(Url(node, "/tables/t/records/ok-0"))).StatusCode);
    }

    [Fact]
    public async Task A_batch_over_its_size_or_record_count_is_refused_whole()
    {
        var node = await Start(settings: new HttpSettings("127.0.0.1", 0) { MaxBatchBytes = 4096, MaxBatchRecords = 5 });
        var before = node.Host.Store.LastSequence;
        var six = Enumerable.Range(0, 6).Select(i => new { id = $"r-{i}", data = new { i } }).ToArray();
        var large = new[] { new { id = "big", data = new { text = new string('a', 5000) } } };

        var tooMany = await Client.PostAsync(Url(node, "/tables/t/records"), JsonContent.Create(six));
        var tooManyLines = await Client.PostAsync(Url(node, "/tables/t/records"),
            new StringContent(string.Join("\n", six.Select(s => JsonSerializer.Serialize(s))), Encoding.UTF8, "application/x-ndjson"));
        var tooLarge = await Client.PostAsync(Url(node, "/tables/t/records"), JsonContent.Create(large));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooMany.StatusCode);
        Assert.Contains("max-batch-records", await tooMany.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooManyLines.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        Assert.Contains("max-batch-bytes", await tooLarge.Content.ReadAsStringAsync());
        Assert.Equal(before, node.Host.Store.LastSequence);
        Assert.Equal(HttpStatusCode.OK, (await Client.PostAsync(Url(node, "/tables/t/records"), JsonContent.Create(six.Take(5)))).StatusCode);
    }

    [Fact]
    public async Task Concurrent_single_writes_each_get_their_own_outcome_and_sequence()
    {
        var node = await Start();
        // Data within record.max-size but a record over the frame limit: refused by the store, inside a group of others.
        node.Host.Store.Limits = node.Host.Store.Limits with { MaxFrameBytes = 1000 };
        var before = node.Host.Store.LastSequence;
        const int writers = 200;
        var puts = Enumerable.Range(0, writers).Select(async i =>
        {
            var data = i % 50 == 7 ? $$"""{"x":"{{new string('a', 2000)}}"}""" : $$"""{"n":{{i}}}""";
            var response = await Client.PutAsync(Url(node, $"/tables/t/records/{TestData.Id(i)}"), new StringContent(data, Encoding.UTF8, "application/json"));
            return (Index: i, response.StatusCode, Body: await response.Content.ReadFromJsonAsync<JsonElement>());
        }).ToList();
        var deletes = Enumerable.Range(0, 20).Select(i => Client.DeleteAsync(Url(node, $"/tables/t/records/never-{i}"))).ToList();
        var results = await Task.WhenAll(puts);
        var deleted = await Task.WhenAll(deletes);

        Assert.All(deleted, d => Assert.Equal(HttpStatusCode.NotFound, d.StatusCode));
        foreach (var (index, status, body) in results)
        {
            if (index % 50 == 7)
            {
                Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
                Assert.Contains(TestData.Id(index), body.GetProperty("error").GetString());
                Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync(Url(node, $"/tables/t/records/{TestData.Id(index)}"))).StatusCode);
                continue;
            }
            Assert.Equal(HttpStatusCode.OK, status);
            var record = await Client.GetFromJsonAsync<JsonElement>(Url(node, $"/tables/t/records/{TestData.Id(index)}"));
            Assert.Equal(body.GetProperty("version").GetString(), record.GetProperty("version").GetString());
            Assert.Equal(index, record.GetProperty("data").GetProperty("n").GetInt32());
        }
        var succeeded = results.Count(r => r.StatusCode == HttpStatusCode.OK);
        // Every success took exactly one audit entry, none twice, none lost.
        Assert.Equal(before + succeeded, node.Host.Store.LastSequence);
        var audit = node.Host.Store.ReadAudit(before + 1, writers * 2);
        Assert.Equal(succeeded, audit.Select(a => a.Id).Distinct().Count());
        Assert.Equal(Enumerable.Range(1, succeeded).Select(i => before + i), audit.Select(a => a.Sequence));
    }

    [Fact]
    public async Task Concurrent_blob_uploads_are_all_durable_and_byte_exact()
    {
        var node = await Start();
        var blobs = Enumerable.Range(0, 40).Select(i => TestData.Blob(i, 20_000 + i)).ToArray();

        var statuses = await Task.WhenAll(blobs.Select(async (blob, i) =>
            (await Client.PutAsync(Url(node, $"/tables/t/records/{TestData.Id(i % 10)}/blobs/f{i / 10}"), new ByteArrayContent(blob))).StatusCode));

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        for (var i = 0; i < blobs.Length; i++)
            Assert.Equal(blobs[i], await Client.GetByteArrayAsync(Url(node, $"/tables/t/records/{TestData.Id(i % 10)}/blobs/f{i / 10}")));
        var record = await Client.GetFromJsonAsync<JsonElement>(Url(node, $"/tables/t/records/{TestData.Id(3)}"));
        Assert.Equal(["f0", "f1", "f2", "f3"], record.GetProperty("blobs").EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task A_record_with_its_blobs_in_one_multipart_request_is_stored_byte_for_byte()
    {
        var node = await Start();
        var photo = TestData.Blob(1, 300_000);
        var thumb = TestData.Blob(2, 10);
        Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(Url(node, "/tables/t/records/r/blobs/kept"), new ByteArrayContent(thumb))).StatusCode);
        var before = node.Host.Store.LastSequence;
        using var form = new MultipartFormDataContent
        {
            { new StringContent("""{"name":"Alice"}""", Encoding.UTF8, "application/json"), "data" },
            { new ByteArrayContent(photo), "photo", "photo.jpg" },
            { new ByteArrayContent(thumb), "thumb" },
            { new ByteArrayContent([]), "empty" },
        };

        var response = await Client.PutAsync(Url(node, "/tables/t/records/r"), form);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answered = await response.Content.ReadFromJsonAsync<JsonElement>();
        // One write: one new version naming every blob.
        Assert.Equal(before + 1, node.Host.Store.LastSequence);
        var record = await Client.GetFromJsonAsync<JsonElement>(Url(node, "/tables/t/records/r"));
        Assert.Equal(answered.GetProperty("version").GetString(), record.GetProperty("version").GetString());
        Assert.Equal("Alice", record.GetProperty("data").GetProperty("name").GetString());
        Assert.Equal(["empty", "kept", "photo", "thumb"], record.GetProperty("blobs").EnumerateObject().Select(p => p.Name));
        Assert.Equal(photo, await Client.GetByteArrayAsync(Url(node, "/tables/t/records/r/blobs/photo")));
        Assert.Equal(thumb, await Client.GetByteArrayAsync(Url(node, "/tables/t/records/r/blobs/thumb")));
        Assert.Equal(thumb, await Client.GetByteArrayAsync(Url(node, "/tables/t/records/r/blobs/kept")));
        Assert.Empty(await Client.GetByteArrayAsync(Url(node, "/tables/t/records/r/blobs/empty")));
    }

    [Theory]
    [InlineData("bad name", "part bad name")]
    [InlineData("photo", "part photo: the field is there twice")]
    [InlineData("NODATA", "no part named data")]
    [InlineData("BADDATA", "part data")]
    [InlineData("HUGEBLOB", "part huge")]
    public async Task A_bad_multipart_request_writes_nothing_and_leaves_no_file(string badPart, string named)
    {
        var node = await Start("cluster-node.blob.max-size = 100 KiB");
        Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(Url(node, "/tables/t/records/r"), new StringContent("""{"v":1}"""))).StatusCode);
        var before = node.Host.Store.LastSequence;
        var blobsDirectory = node.Host.Store.Blobs.Directory;
        var filesBefore = Directory.GetFiles(blobsDirectory, "*", SearchOption.AllDirectories).Length;
        using var form = new MultipartFormDataContent();
        if (badPart != "NODATA") form.Add(new StringContent(badPart == "BADDATA" ? "[1,2]" : """{"v":2}"""), "data");
        form.Add(new ByteArrayContent(TestData.Blob(1, 50_000)), "photo");
        if (badPart == "HUGEBLOB") form.Add(new ByteArrayContent(TestData.Blob(2, 200_000)), "huge");
        else if (badPart is not ("NODATA" or "BADDATA")) form.Add(new ByteArrayContent(TestData.Blob(2, 1_000)), badPart);
        form.Add(new ByteArrayContent(TestData.Blob(3, 1_000)), "after");

        var response = await Client.PutAsync(Url(node, "/tables/t/records/r"), form);

        Assert.True(response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge, response.StatusCode.ToString());
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;
        Assert.Contains(named, error);
        Assert.Contains("nothing was written", error);
        Assert.Equal(before, node.Host.Store.LastSequence);
        var record = await Client.GetFromJsonAsync<JsonElement>(Url(node, "/tables/t/records/r"));
        Assert.Equal(1, record.GetProperty("data").GetProperty("v").GetInt32());
        Assert.Empty(record.GetProperty("blobs").EnumerateObject());
        Assert.Equal(filesBefore, Directory.GetFiles(blobsDirectory, "*", SearchOption.AllDirectories).Length);
    }

    [Fact]
    public async Task A_multipart_body_cut_short_writes_nothing()
    {
        var node = await Start();
        var before = node.Host.Store.LastSequence;
        var body = "--xyz\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n{}\r\n--xyz\r\nContent-Disposition: form-data; name=\"photo\"\r\n\r\nsome bytes but no closing boundary";
        var content = new StringContent(body);
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("multipart/form-data; boundary=xyz");

        var response = await Client.PutAsync(Url(node, "/tables/t/records/r"), content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("malformed", await response.Content.ReadAsStringAsync());
        Assert.Equal(before, node.Host.Store.LastSequence);
        Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync(Url(node, "/tables/t/records/r"))).StatusCode);
        Assert.Empty(Directory.GetFiles(node.Host.Store.Blobs.Directory, "*", SearchOption.AllDirectories));
    }

    private Task<(NodeHost Host, HttpServer Http)> Start(string extra = "", HttpSettings? settings = null) =>
        StartNode($"n{Started}", Loopback.FreePort(), seed: null, extra, settings);
}
