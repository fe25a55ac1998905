using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using ClusterNode.Client;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Client;

/// <summary>
/// The .NET client against a real node process: records and batches read back equal, a 100 MB blob streamed both ways
/// byte for byte, damaged bytes never handed out as the blob, a cancelled upload storing nothing, and the node's refusals
/// as typed exceptions carrying its message.
/// </summary>
public sealed class ClusterNodeClientSpec(ClientNode fixture, ITestOutputHelper output) : IClassFixture<ClientNode>, IDisposable
{
    private readonly ClusterNodeClient _client = fixture.Client();

    private sealed record Person(string Name, int Age, string[] Tags);

    [Fact]
    public async Task A_record_put_must_read_back_equal_and_once_deleted_be_not_found()
    {
        var bob = new Person("Bob", 42, ["a", "é"]);

        var written = await _client.PutRecordAsync("roundtrip", "bob", bob);
        var read = await _client.GetRecordAsync("roundtrip", "bob");

        Assert.Equal("bob", written.Id);
        Assert.Equal(written.Version, read.Version);
        Assert.Equal(bob with { Tags = [] }, read.DataAs<Person>()! with { Tags = [] });
        Assert.Equal(bob.Tags, read.DataAs<Person>()!.Tags);
        Assert.Empty(read.Blobs);
        // A JsonNode (or JsonElement) is sent as it is.
        var replaced = await _client.PutRecordAsync("roundtrip", "bob", new JsonObject { ["name"] = "Robert" });
        Assert.Equal("Robert", (await _client.GetRecordAsync("roundtrip", "bob")).Data.GetProperty("name").GetString());
        Assert.NotEqual(written.Version, replaced.Version);

        await _client.DeleteRecordAsync("roundtrip", "bob");

        var missing = await Assert.ThrowsAsync<NotFoundException>(() => _client.GetRecordAsync("roundtrip", "bob"));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("roundtrip/bob", missing.Message);
        Assert.Null(await _client.FindRecordAsync("roundtrip", "bob"));
        await Assert.ThrowsAsync<NotFoundException>(() => _client.DeleteRecordAsync("roundtrip", "bob"));
    }

    [Fact]
    public async Task A_batch_must_be_written_whole_and_read_back_equal()
    {
        var records = Enumerable.Range(0, 500).Select(i => new BatchRecord<Person>($"p-{i:D4}", new Person($"n{i}", i, [$"t{i}"]))).ToList();

        var written = await _client.WriteBatchAsync("batch", records);

        Assert.Equal(records.Select(r => r.Id), written.Select(w => w.Id));
        Assert.Equal(written.Count, written.Select(w => w.Sequence).Distinct().Count());
        foreach (var record in records.Where((_, i) => i % 50 == 0))
            Assert.Equal(record.Data.Tags, (await _client.GetRecordAsync("batch", record.Id)).DataAs<Person>()!.Tags);
        var digest = await _client.GetDigestAsync("batch");
        Assert.Equal(records.Select(r => r.Id), digest.Select(d => d.Id));
        Assert.Equal(written.Select(w => w.Version), digest.Select(d => d.Version));
        Assert.Contains("batch", await _client.ListTablesAsync());
    }

    [Fact]
    public async Task A_batch_must_keep_the_APIs_names_whatever_the_clients_naming_policy()
    {
        using var http = new HttpClient { BaseAddress = fixture.Node.Url };
        var pascal = new ClusterNodeClient(http) { JsonOptions = new JsonSerializerOptions() }; // no naming policy: Name, Age

        await pascal.WriteBatchAsync("pascal", [new BatchRecord<Person>("p1", new Person("Ann", 30, []))]);

        Assert.Equal("Ann", (await _client.GetRecordAsync("pascal", "p1")).Data.GetProperty("Name").GetString());
    }

    [Fact]
    public async Task A_batch_with_a_bad_item_must_be_refused_naming_it_and_write_nothing()
    {
        var records = new[] { new BatchRecord<JsonNode>("fine", new JsonObject { ["n"] = 1 }), new BatchRecord<JsonNode>("not-an-object", new JsonArray(1, 2)) };

        var refused = await Assert.ThrowsAsync<BadRequestException>(() => _client.WriteBatchAsync("refused", records));

        Assert.Contains("not-an-object", refused.Message);
        Assert.Null(await _client.FindRecordAsync("refused", "fine"));
    }

    [Fact]
    public async Task A_batch_with_blobs_and_a_record_with_blobs_must_read_back_equal()
    {
        var records = Enumerable.Range(0, 20).Select(i => new BatchRecord<Person>($"r{i}", new Person($"n{i}", i, []))).ToList();
        var blobs = records.Select((r, i) => new BatchBlob(r.Id, "image", new SeededStream(i, 10_000 + 997 * i))).ToList();

        var written = await _client.WriteBatchAsync("albums", records, blobs);
        var single = await _client.PutRecordAsync("albums", "cover", new Person("cover", 0, []),
            [new BlobUpload("front", new SeededStream(100, 300_000)), new BlobUpload("back", new SeededStream(101, 1))]);

        Assert.Equal(records.Select(r => r.Id), written.Select(w => w.Id));
        for (var i = 0; i < records.Count; i++)
        {
            var record = await _client.GetRecordAsync("albums", records[i].Id);
            Assert.Equal(i, record.DataAs<Person>()!.Age);
            Assert.Equal(await Sha256(new SeededStream(i, 10_000 + 997 * i)), record.Blobs["image"].Sha256);
            Assert.Equal(await Sha256(new SeededStream(i, 10_000 + 997 * i)), await DownloadSha256("albums", records[i].Id, "image"));
        }
        Assert.Equal(["back", "front"], single.Blobs.Keys.Order());
        Assert.Equal(await Sha256(new SeededStream(100, 300_000)), await DownloadSha256("albums", "cover", "front"));
        Assert.Equal(await Sha256(new SeededStream(101, 1)), await DownloadSha256("albums", "cover", "back"));
    }

    [Fact]
    public async Task A_100_MB_blob_must_upload_streaming_and_download_byte_exact()
    {
        const long size = 100L * 1024 * 1024;
        var expected = await Sha256(new SeededStream(7, size));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var allocated = GC.GetTotalAllocatedBytes();

        var stored = await _client.PutBlobAsync("big", "one", "payload", new SeededStream(7, size));
        output.WriteLine($"uploaded {size} bytes in {clock.Elapsed.TotalSeconds:F1} s");
        clock.Restart();
        await using var download = await _client.GetBlobAsync("big", "one", "payload");
        var received = await SHA256.HashDataAsync(download);
        output.WriteLine($"downloaded and hashed in {clock.Elapsed.TotalSeconds:F1} s; {(GC.GetTotalAllocatedBytes() - allocated) / 1024} KiB allocated by the test process for both");

        Assert.Equal(size, stored.Blobs["payload"].Size);
        Assert.Equal(expected, stored.Blobs["payload"].Sha256);
        Assert.Equal(size, download.Length);
        Assert.True(download.IsVerified);
        Assert.Equal(expected, Convert.ToHexStringLower(received));
    }

    [Fact]
    public async Task A_blob_over_the_nodes_limit_must_be_refused_with_TooLargeException_and_store_nothing()
    {
        var refused = await Assert.ThrowsAsync<TooLargeException>(() => _client.PutBlobAsync("big", "too-big", "payload", new SeededStream(8, ClientNode.MaxBlobBytes + 1)));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
        Assert.Contains("cluster-node.blob.max-size", refused.Message);
        Assert.Null(await _client.FindRecordAsync("big", "too-big"));
    }

    [Fact]
    public async Task A_blob_damaged_on_disk_after_its_upload_must_never_be_handed_out_as_the_blob()
    {
        const int size = 1024 * 1024;
        var stored = await _client.PutBlobAsync("damaged", "rec", "file", new SeededStream(11, size));
        var file = Directory.EnumerateFiles(Path.Combine(fixture.DataDirectory, "blobs"))
            .Where(f => new FileInfo(f).Length == size)
            .Single(f => { using var bytes = File.OpenRead(f); return Convert.ToHexStringLower(SHA256.HashData(bytes)) == stored.Blobs["file"].Sha256; });
        // Rot in place: the same size, other bytes.
        await using (var rotten = new SeededStream(12, size)) await using (var target = File.Create(file)) await rotten.CopyToAsync(target);

        using var received = new MemoryStream();
        var refused = await Assert.ThrowsAnyAsync<ClusterNodeException>(() => _client.DownloadBlobAsync("damaged", "rec", "file", received));

        output.WriteLine($"{refused.GetType().Name} ({(int)refused.StatusCode}) after {received.Length} bytes: {refused.Message}");
        // Cut short by the node as it found the damage, refused before any byte, or (once the repair gave up) lost.
        Assert.True(refused is BlobIntegrityException or UnavailableException or BlobLostException, refused.ToString());
        Assert.True(received.Length < size, $"{received.Length} bytes handed out of {size}");
    }

    [Fact]
    public async Task A_cancelled_upload_must_leave_no_record_and_no_blob_file()
    {
        using var cancel = new CancellationTokenSource();
        var blob = new SeededStream(21, 50L * 1024 * 1024) { AfterRead = position => { if (position >= 5 * 1024 * 1024) cancel.Cancel(); } };
        var batchBlob = new SeededStream(22, 50L * 1024 * 1024) { AfterRead = position => { if (position >= 5 * 1024 * 1024) cancel.Cancel(); } };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _client.PutBlobAsync("cancelled", "single", "file", blob, cancel.Token));
        cancel.TryReset();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            _client.WriteBatchAsync("cancelled", [new BatchRecord<Person>("batched", new Person("b", 1, []))], [new BatchBlob("batched", "file", batchBlob)], cancel.Token));

        Assert.Null(await _client.FindRecordAsync("cancelled", "single"));
        Assert.Null(await _client.FindRecordAsync("cancelled", "batched"));
        await ClusterNode.Tests.Support.Loopback.Eventually(() =>
        {
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(fixture.DataDirectory, "blobs", "tmp")));
            return Task.CompletedTask;
        }, TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task The_nodes_refusals_must_be_typed_exceptions_carrying_its_message()
    {
        var notFound = await Assert.ThrowsAsync<NotFoundException>(() => _client.GetBlobAsync("people", "nobody", "photo"));
        var notAnObject = await Assert.ThrowsAsync<BadRequestException>(() => _client.PutRecordAsync("people", "list", new[] { 1, 2 }));
        var badName = await Assert.ThrowsAsync<BadRequestException>(() => _client.PutRecordAsync("people", "white space", new { a = 1 }));
        var tooLong = await Assert.ThrowsAsync<BadRequestException>(() => _client.GetRecordAsync(new string('t', 129), "x"));

        Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, notAnObject.StatusCode);
        Assert.Contains("must be a JSON object", notAnObject.Message);
        Assert.Contains("'white space' may only hold letters", badName.Message);
        Assert.Contains("129 characters", tooLong.Message);
        Assert.Null(await _client.FindRecordAsync("people", "list"));
        // What would change the route is refused before anything is sent.
        await Assert.ThrowsAsync<ArgumentException>(() => _client.GetRecordAsync("people", ".."));
    }

    [Fact]
    public async Task Status_members_and_health_must_describe_the_node()
    {
        var status = await _client.GetStatusAsync();
        var members = await _client.GetMembersAsync();
        var health = await _client.GetHealthAsync();

        Assert.False(string.IsNullOrEmpty(status.NodeId));
        Assert.Contains(status.Members, m => m.Self && m.Status == "Up" && m.Reachable);
        Assert.Empty(status.Peers);
        Assert.Equal(status.Members.Select(m => m.Address), members.Select(m => m.Address));
        Assert.True(health.IsReady, string.Join(", ", health.Checks.Select(c => $"{c.Key}: {c.Value.Status}")));
        Assert.Equal(["member", "store"], health.Checks.Keys.Order());
        Assert.True(await _client.IsLiveAsync());
    }

    [Fact]
    public async Task A_client_made_by_IHttpClientFactory_must_talk_to_the_node()
    {
        await using var services = new ServiceCollection()
            .AddHttpClient<ClusterNodeClient>(http => http.BaseAddress = fixture.Node.Url).Services
            .BuildServiceProvider();
        var client = services.GetRequiredService<ClusterNodeClient>();

        await client.PutRecordAsync("factory", "made", new { by = "IHttpClientFactory" });

        Assert.Equal("IHttpClientFactory", (await client.GetRecordAsync("factory", "made")).Data.GetProperty("by").GetString());
    }

    [Fact]
    public async Task The_README_example_must_run_as_written()
    {
        var dir = Path.Combine(fixture.DataDirectory, "..", "readme");
        Directory.CreateDirectory(dir);
        await File.WriteAllBytesAsync(Path.Combine(dir, "bob.jpg"), ClusterNode.Tests.Replication.TestData.Blob(1, 300_000));
        await File.WriteAllBytesAsync(Path.Combine(dir, "ann.jpg"), ClusterNode.Tests.Replication.TestData.Blob(2, 200_000));
        var url = fixture.Node.Url;
        string? token = null;
        var readme = new StringWriter();

        // ---- the README's example, with url, paths and Console as the spec gives them
        using var client = new ClusterNodeClient(url, bearerToken: token); // token: one of the node's http.tokens, or null

        // A record: anything that serializes to a JSON object. Answered once it is durable.
        await client.PutRecordAsync("people", "bob", new { name = "Bob", age = 42 });
        var bob = await client.GetRecordAsync("people", "bob");
        readme.WriteLine($"{bob.Id} {bob.Version}: {bob.Data.GetProperty("name")}");

        // A blob, streamed from a file (never held in memory); the node's sha256 of it is checked against what was sent.
        await using (var photo = File.OpenRead(Path.Combine(dir, "bob.jpg")))
            await client.PutBlobAsync("people", "bob", "photo", photo);

        // Streamed back and verified as it streams: damaged or cut-short bytes end in a BlobIntegrityException.
        await using (var copy = File.Create(Path.Combine(dir, "copy.jpg")))
            await client.DownloadBlobAsync("people", "bob", "photo", copy);

        // A batch: one atomic, durable transaction; its blobs name their record's id and field.
        await using var annPhoto = File.OpenRead(Path.Combine(dir, "ann.jpg"));
        await client.WriteBatchAsync("people",
            [new BatchRecord<object>("ann", new { name = "Ann" }), new BatchRecord<object>("cy", new { name = "Cy" })],
            [new BatchBlob("ann", "photo", annPhoto)]);

        try
        {
            await client.GetRecordAsync("people", "nobody");
        }
        catch (NotFoundException e)
        {
            readme.WriteLine(e.Message); // no record people/nobody
        }
        // ---- end of the example

        output.WriteLine(readme.ToString());
        Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(dir, "bob.jpg")), await File.ReadAllBytesAsync(Path.Combine(dir, "copy.jpg")));
        Assert.Equal("Ann", (await client.GetRecordAsync("people", "ann")).Data.GetProperty("name").GetString());
        Assert.Equal(200_000, (await client.GetRecordAsync("people", "ann")).Blobs["photo"].Size);
        Assert.EndsWith("no record people/nobody", readme.ToString().Trim());
    }

    private async Task<string> DownloadSha256(string table, string id, string field)
    {
        await using var download = await _client.GetBlobAsync(table, id, field);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(download));
    }

    private static async Task<string> Sha256(Stream stream)
    {
        await using (stream) return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream));
    }

    public void Dispose() => _client.Dispose();
}
