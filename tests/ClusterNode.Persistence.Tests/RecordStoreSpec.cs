using System.Security.Cryptography;
using System.Text;
using ClusterNode.Persistence.Blobs;
using ClusterNode.Persistence.Records;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Persistence.Tests;

/// <summary>
/// The record store as a node relies on it: last writer wins on replicated records, deletes replicate and stay
/// deleted, every winning change is audited in order, blob files live exactly as long as a record refers to them,
/// and all of it survives a restart. Plain xunit rather than TestKit: there is no actor here.
/// </summary>
public sealed class RecordStoreSpec(ITestOutputHelper output) : IDisposable
{
    private const long BaseMs = 1_700_000_000_000;
    private readonly List<TempDirectory> _directories = [];
    private long _nowMs = BaseMs;

    public void Dispose()
    {
        foreach (var dir in _directories) dir.Dispose();
    }

    private RecordStoreSettings NewSettings(string nodeId = "", long auditRetention = 10_000_000)
    {
        var dir = new TempDirectory("cn-records");
        _directories.Add(dir);
        return new RecordStoreSettings(dir.FullPath, nodeId, 64L << 20, auditRetention);
    }

    private RecordStore OpenStore(RecordStoreSettings settings) => RecordStore.Open(settings, () => _nowMs);

    private RecordStore NewStore(string nodeId = "", long auditRetention = 10_000_000) =>
        OpenStore(NewSettings(nodeId, auditRetention));

    private static byte[] Json(string text) => Encoding.UTF8.GetBytes(text);

    private static string Text(StoredRecord? record) => Encoding.UTF8.GetString(record!.Data);

    private static RecordVersion V(long ms, string origin = "peer") => new((ulong)ms << 16, origin);

    private static StoredRecord Rec(string id, RecordVersion version, string json = "{}", params BlobRef[] blobs) =>
        new("t", id, version, false, Json(json), blobs);

    private static StoredRecord Tombstone(string id, RecordVersion version) => new("t", id, version, true, [], []);

    /// <summary>Saves bytes as a blob the way the node does: temp file, checked commit, directory fsync.</summary>
    private static BlobRef SaveBlob(BlobStore blobs, string field, byte[] bytes, string? fileId = null)
    {
        using var writer = blobs.BeginWrite();
        writer.Append(bytes);
        var blob = writer.Commit(field, fileId ?? BlobStore.NewFileId(), bytes.Length, SHA256.HashData(bytes));
        blobs.SyncDirectory();
        return blob;
    }

    /// <summary>A blob reference as a peer would send it: this store has no file for it yet.</summary>
    private static BlobRef RemoteBlob(string field, byte[] bytes) =>
        new(field, BlobStore.NewFileId(), bytes.Length, SHA256.HashData(bytes));

    /// <summary>BlobRef is a record holding a byte[], so its generated equality compares the hash by reference.</summary>
    private static void AssertBlobs(IEnumerable<BlobRef> expected, IEnumerable<BlobRef> actual) =>
        Assert.Equal(expected.Select(b => (b.Field, b.FileId, b.Size, b.Sha256Hex)), actual.Select(b => (b.Field, b.FileId, b.Size, b.Sha256Hex)));

    private static bool HasFile(RecordStore store, BlobRef blob) => File.Exists(store.Blobs.PathOf(blob.FileId));

    // ---------------------------------------------------------------- last writer wins

    [Fact]
    public void A_local_write_is_refused_while_a_blob_it_would_keep_has_not_arrived()
    {
        using var store = NewStore("local");
        var bytes = Encoding.UTF8.GetBytes("photo bytes still in flight");
        var remote = RemoteBlob("image", bytes);
        store.ApplyReplicated([Rec("r1", V(BaseMs, "peer"), "{\"v\":1}", remote)]);
        var last = store.LastSequence;

        _nowMs = BaseMs + 1000;
        var refused = Assert.Throws<BlobBytesPendingException>(() => store.PutData("t", "r1", Json("{\"v\":2}")));
        Assert.Contains("image", refused.Message);
        Assert.Equal("{\"v\":1}", Text(store.Get("t", "r1")));
        Assert.Equal(last, store.LastSequence);
        Assert.Throws<BlobBytesPendingException>(() => store.PutBlob("t", "r1", SaveBlob(store.Blobs, "thumb", [1, 2, 3])));

        // Once the bytes are here the same write goes through and keeps the blob.
        SaveBlob(store.Blobs, "image", bytes, remote.FileId);
        AssertBlobs([remote], store.PutData("t", "r1", Json("{\"v\":2}")).Record.Blobs);
    }

    [Fact]
    public void A_replicated_record_naming_an_existing_file_id_with_the_same_size_but_another_hash_must_save_its_bytes()
    {
        using var store = NewStore("local");
        var held = SaveBlob(store.Blobs, "image", Encoding.UTF8.GetBytes("the bytes this node holds"));
        store.PutBlob("t", "mine", held);
        var other = Encoding.UTF8.GetBytes("other bytes of equal size");
        Assert.Equal(held.Size, other.Length);
        var forged = new BlobRef("image", held.FileId, held.Size, SHA256.HashData(other));

        // Known held (hashed by this node's writer) and not: a file that was never hashed is hashed now.
        var applied = store.ApplyReplicated([Rec("r1", V(BaseMs, "peer"), "{}", forged)]);
        AssertBlobs([forged], applied[0].BlobsToSave);
        var restarted = new BlobStore(store.Blobs.Directory); // forgets what was hashed, as a restart does
        Assert.False(restarted.IsPresent(forged));
        Assert.True(restarted.IsPresent(held));

        // The same version again (the repair path) and an older one sharing the blob still owe the bytes.
        AssertBlobs([forged], store.ApplyReplicated([Rec("r1", V(BaseMs, "peer"), "{}", forged)])[0].BlobsToSave);
        // A local write keeping that blob would issue a version whose bytes this node does not hold.
        _nowMs = BaseMs + 1000;
        Assert.Throws<BlobBytesPendingException>(() => store.PutData("t", "r1", Json("{\"v\":2}")));
        Assert.Equal("{}", Text(store.Get("t", "r1")));
        // The record whose bytes the file really holds is untouched.
        AssertBlobs([held], store.PutData("t", "mine", Json("{\"v\":2}")).Record.Blobs);
    }

    [Fact]
    public void An_older_version_still_brings_the_bytes_of_a_blob_the_current_version_shares_and_lacks()
    {
        using var store = NewStore("local");
        var bytes = Encoding.UTF8.GetBytes("shared photo bytes");
        var shared = RemoteBlob("image", bytes);
        // One peer's version arrives and its blob save fails; a newer version (another peer changed the data)
        // keeps the same blob.
        store.ApplyReplicated([Rec("r1", V(BaseMs, "peer"), "{\"v\":1}", shared)]);
        store.ApplyReplicated([Rec("r1", V(BaseMs + 1000, "other"), "{\"v\":2}", shared)]);
        Assert.False(HasFile(store, shared));

        // The first peer re-sends its older version: dropped, but the bytes it brings are still owed here.
        var again = store.ApplyReplicated([Rec("r1", V(BaseMs, "peer"), "{\"v\":1}", shared)]);
        Assert.Equal(ApplyKind.Stale, again[0].Kind);
        AssertBlobs([shared], again[0].BlobsToSave);
        Assert.Equal("{\"v\":2}", Text(store.Get("t", "r1")));

        SaveBlob(store.Blobs, "image", bytes, shared.FileId);
        Assert.Empty(store.ApplyReplicated([Rec("r1", V(BaseMs, "peer"), "{\"v\":1}", shared)])[0].BlobsToSave);
    }

    [Fact]
    public void Newer_version_wins_and_older_is_dropped()
    {
        using var store = NewStore();
        var first = store.ApplyReplicated([Rec("r", V(BaseMs + 2), """{"v":2}""")]);
        var stale = store.ApplyReplicated([Rec("r", V(BaseMs + 1), """{"v":1}""")]);

        Assert.Equal(ApplyKind.Applied, first[0].Kind);
        Assert.Equal(ApplyKind.Stale, stale[0].Kind);
        Assert.Equal("""{"v":2}""", Text(store.Get("t", "r")));
        Assert.Equal(V(BaseMs + 2), store.Get("t", "r")!.Version);

        var newer = store.ApplyReplicated([Rec("r", V(BaseMs + 3), """{"v":3}""")]);
        Assert.Equal(ApplyKind.Applied, newer[0].Kind);
        Assert.Equal("""{"v":3}""", Text(store.Get("t", "r")));
    }

    [Fact]
    public void Equal_clocks_are_ordered_by_origin_so_every_node_picks_the_same_winner()
    {
        using var one = NewStore();
        using var two = NewStore();
        var fromA = Rec("r", V(BaseMs, "node-a"), """{"from":"a"}""");
        var fromB = Rec("r", V(BaseMs, "node-b"), """{"from":"b"}""");

        one.ApplyReplicated([fromA]);
        one.ApplyReplicated([fromB]);
        two.ApplyReplicated([fromB]);
        two.ApplyReplicated([fromA]);

        Assert.Equal("""{"from":"b"}""", Text(one.Get("t", "r")));
        Assert.Equal("""{"from":"b"}""", Text(two.Get("t", "r")));
    }

    [Fact]
    public void Same_version_is_idempotent_and_adds_no_audit_entry()
    {
        using var store = NewStore();
        var record = Rec("r", V(BaseMs), """{"v":1}""");
        store.ApplyReplicated([record]);
        var sequence = store.LastSequence;

        var again = store.ApplyReplicated([record]);

        Assert.Equal(ApplyKind.Same, again[0].Kind);
        Assert.Empty(again[0].BlobsToSave);
        Assert.Equal(sequence, store.LastSequence);
        Assert.Single(store.ReadAudit(1, 100));
        Assert.Equal("""{"v":1}""", Text(store.Get("t", "r")));
    }

    /// <summary>Sequences 1 to 4: a and b written, a replaced, b deleted.</summary>
    private static void WriteReplaceAndDelete(RecordStore store)
    {
        store.PutData("t", "a", Json("""{"v":1}"""));   // 1
        store.PutData("t", "b", Json("""{"v":1}"""));   // 2
        store.PutData("t", "a", Json("""{"v":2}"""));   // 3
        store.Delete("t", "b");                            // 4
    }

    [Fact]
    public void The_log_reads_back_with_each_record_as_it_stands_now()
    {
        using var store = NewStore();
        WriteReplaceAndDelete(store); // 1 to 4

        var log = store.ReadLog(2, 10);

        Assert.Equal([2L, 3L, 4L], log.Select(l => l.Entry.Sequence));
        Assert.NotEqual(log[0].Entry.Version, log[0].Current!.Version); // b was replaced by its tombstone since
        Assert.Equal(log[1].Entry.Version, log[1].Current!.Version);
        Assert.Equal("""{"v":2}""", Text(log[1].Current));
        Assert.True(log[2].Current!.Deleted);
        Assert.Equal([2L], store.ReadLog(2, 1).Select(l => l.Entry.Sequence));
    }

    [Fact]
    public void The_log_read_for_sending_carries_the_encoded_body_only_of_records_at_their_version_without_blobs()
    {
        using var store = NewStore();
        WriteReplaceAndDelete(store); // 1 to 4
        store.PutBlob("t", "c", SaveBlob(store.Blobs, "photo", [1, 2, 3])); // 5

        var log = store.ReadLogForSending(1, 10);

        Assert.Equal([1L, 2L, 3L, 4L, 5L], log.Select(l => l.Entry.Sequence));
        // Replaced since: decoded, so the sender sees the newer version and skips the entry.
        Assert.Null(log[0].PlainBody);
        Assert.NotEqual(log[0].Entry.Version, log[0].Current!.Version);
        // At their version without blobs (a tombstone too): exactly the bytes a decoded record encodes to.
        foreach (var sent in new[] { log[2], log[3] })
        {
            Assert.Null(sent.Current);
            var stored = store.Get("t", sent.Entry.Id)!;
            var expected = new ClusterNode.Persistence.Binary.ByteWriter();
            RecordCodec.WriteBody(expected, stored);
            Assert.Equal(expected.ToArray(), sent.PlainBody);
        }
        // With a blob: decoded, so its blob is opened and sent.
        Assert.Null(log[4].PlainBody);
        Assert.Single(log[4].Current!.Blobs);
    }

    [Fact]
    public void A_record_applied_on_another_node_reads_back_the_same()
    {
        using var origin = NewStore("node-a");
        using var follower = NewStore("node-b");
        var bytes = RandomNumberGenerator.GetBytes(3000);
        var blob = SaveBlob(origin.Blobs, "photo", bytes);
        origin.PutData("t", "r", Json("""{"name":"x"}"""));
        var written = origin.PutBlob("t", "r", blob).Record;

        var outcome = follower.ApplyReplicated([written]).Single();
        Assert.Equal(ApplyKind.Applied, outcome.Kind);
        AssertBlobs([blob], outcome.BlobsToSave);
        SaveBlob(follower.Blobs, "photo", bytes, blob.FileId);

        var copy = follower.Get("t", "r")!;
        Assert.Equal(written.Version, copy.Version);
        Assert.Equal("""{"name":"x"}""", Text(copy));
        Assert.True(follower.Blobs.Verify(Assert.Single(copy.Blobs)));
        Assert.Equal("node-a", copy.Version.Origin);
    }

    [Fact]
    public void A_newer_version_names_the_blobs_this_node_does_not_have_yet()
    {
        using var store = NewStore();
        var present = SaveBlob(store.Blobs, "a", Json("present"));
        var missing = RemoteBlob("b", Json("missing"));

        var outcome = store.ApplyReplicated([Rec("r", V(BaseMs), "{}", present, missing)]).Single();

        Assert.Equal(ApplyKind.Applied, outcome.Kind);
        AssertBlobs([missing], outcome.BlobsToSave);
    }

    [Fact]
    public void Same_version_again_names_a_blob_whose_file_is_missing()
    {
        using var store = NewStore();
        var bytes = Json("blob bytes");
        var blob = RemoteBlob("f", bytes);
        var record = Rec("r", V(BaseMs), "{}", blob);
        store.ApplyReplicated([record]);
        SaveBlob(store.Blobs, "f", bytes, blob.FileId);
        Assert.Empty(store.ApplyReplicated([record]).Single().BlobsToSave);

        File.Delete(store.Blobs.PathOf(blob.FileId));
        var again = store.ApplyReplicated([record]).Single();

        Assert.Equal(ApplyKind.Same, again.Kind);
        AssertBlobs([blob], again.BlobsToSave);
        Assert.Single(store.ReadAudit(1, 100));
    }

    [Fact]
    public void Same_version_again_names_a_blob_whose_bytes_do_not_match_its_sha256()
    {
        using var store = NewStore();
        var bytes = RandomNumberGenerator.GetBytes(1024);
        var blob = RemoteBlob("f", bytes);
        var record = Rec("r", V(BaseMs), "{}", blob);
        store.ApplyReplicated([record]);
        SaveBlob(store.Blobs, "f", bytes, blob.FileId);

        // Same size, one flipped bit: only the hash can tell.
        var corrupt = (byte[])bytes.Clone();
        corrupt[500] ^= 0x01;
        File.WriteAllBytes(store.Blobs.PathOf(blob.FileId), corrupt);
        var again = store.ApplyReplicated([record]).Single();

        Assert.Equal(ApplyKind.Same, again.Kind);
        AssertBlobs([blob], again.BlobsToSave);
    }

    [Fact]
    public void Records_of_a_frame_are_applied_each_on_its_own_merits()
    {
        using var store = NewStore();
        store.ApplyReplicated([Rec("same", V(BaseMs)), Rec("stale", V(BaseMs + 5))]);
        var before = store.LastSequence;

        var outcomes = store.ApplyReplicated([
            Rec("new", V(BaseMs)),
            Rec("same", V(BaseMs)),
            Rec("stale", V(BaseMs + 1)),
            Rec("new2", V(BaseMs)),
        ]);

        Assert.Equal([ApplyKind.Applied, ApplyKind.Same, ApplyKind.Stale, ApplyKind.Applied], outcomes.Select(o => o.Kind));
        Assert.Equal([before + 1, 0, 0, before + 2], outcomes.Select(o => o.LocalSequence));
        Assert.Equal(["new", "new2"], store.ReadAudit(before + 1, 100).Select(e => e.Id));
    }

    [Fact]
    public void Nodes_that_receive_the_same_versions_in_any_order_converge_on_the_newest()
    {
        var seed = TestSeed.Pick(output, nameof(Nodes_that_receive_the_same_versions_in_any_order_converge_on_the_newest));
        var random = new Random(seed);
        string[] origins = ["node-a", "node-b", "node-c"];
        var versions = Enumerable.Range(0, 40)
            .Select(i =>
            {
                var version = new RecordVersion(((ulong)(BaseMs + random.Next(0, 20)) << 16) | (uint)random.Next(0, 3), origins[random.Next(origins.Length)]);
                var id = "r" + random.Next(0, 4);
                return random.Next(4) == 0 ? Tombstone(id, version) : Rec(id, version, $$"""{"i":{{i}}}""");
            })
            // A version names one write: two different records never share one, so the generator must not either.
            .DistinctBy(r => r.Version)
            .ToList();
        using var one = NewStore();
        using var two = NewStore();

        foreach (var record in versions) one.ApplyReplicated([record]);
        foreach (var frame in versions.OrderBy(_ => random.Next()).Chunk(random.Next(1, 8))) two.ApplyReplicated(frame);

        foreach (var group in versions.GroupBy(r => r.Id))
        {
            var newest = group.MaxBy(r => r.Version)!;
            foreach (var store in new[] { one, two })
            {
                var stored = store.Get("t", group.Key)!;
                Assert.Equal(newest.Version, stored.Version);
                Assert.Equal(newest.Deleted, stored.Deleted);
                Assert.Equal(newest.Data, stored.Data);
            }
        }
    }

    // ---------------------------------------------------------------- deletes

    [Fact]
    public void Delete_writes_a_tombstone_that_deletes_the_record_on_another_node()
    {
        using var origin = NewStore("node-a");
        using var follower = NewStore("node-b");
        follower.ApplyReplicated([origin.PutData("t", "r", Json("""{"v":1}""")).Record]);

        var delete = origin.Delete("t", "r")!;
        var outcome = follower.ApplyReplicated([delete.Record]).Single();

        Assert.True(delete.Record.Deleted);
        Assert.Equal(ApplyKind.Applied, outcome.Kind);
        Assert.True(follower.Get("t", "r")!.Deleted);
        Assert.Equal(delete.Record.Version, follower.Get("t", "r")!.Version);
    }

    [Fact]
    public void An_older_write_does_not_resurrect_a_deleted_record()
    {
        using var origin = NewStore("node-a");
        using var follower = NewStore("node-b");
        var write = origin.PutData("t", "r", Json("""{"v":1}""")).Record;
        var tombstone = origin.Delete("t", "r")!.Record;

        // The follower gets the delete before the write it replaces (another path, a retry).
        follower.ApplyReplicated([tombstone]);
        var late = follower.ApplyReplicated([write]).Single();
        var lateOnOrigin = origin.ApplyReplicated([write]).Single();

        Assert.Equal(ApplyKind.Stale, late.Kind);
        Assert.Equal(ApplyKind.Stale, lateOnOrigin.Kind);
        Assert.True(follower.Get("t", "r")!.Deleted);
        Assert.True(origin.Get("t", "r")!.Deleted);
    }

    [Fact]
    public void Deleting_a_missing_or_deleted_record_changes_nothing()
    {
        using var store = NewStore();
        Assert.Null(store.Delete("t", "never"));
        store.PutData("t", "r", Json("{}"));
        store.Delete("t", "r");
        var sequence = store.LastSequence;

        Assert.Null(store.Delete("t", "r"));
        Assert.Equal(sequence, store.LastSequence);
    }

    [Fact]
    public void A_write_after_a_delete_makes_the_record_live_again()
    {
        using var store = NewStore();
        store.PutData("t", "r", Json("""{"v":1}"""));
        var tombstone = store.Delete("t", "r")!.Record;

        var rewrite = store.PutData("t", "r", Json("""{"v":2}""")).Record;

        Assert.True(rewrite.Version > tombstone.Version);
        Assert.False(store.Get("t", "r")!.Deleted);
        Assert.Equal("""{"v":2}""", Text(store.Get("t", "r")));
    }

    [Fact]
    public void Deleting_a_record_removes_its_blob_files()
    {
        using var store = NewStore();
        var a = SaveBlob(store.Blobs, "a", Json("aaa"));
        var b = SaveBlob(store.Blobs, "b", Json("bbb"));
        store.PutBlob("t", "r", a);
        store.PutBlob("t", "r", b);

        store.Delete("t", "r");

        Assert.False(HasFile(store, a));
        Assert.False(HasFile(store, b));
    }

    [Fact]
    public void A_replicated_tombstone_removes_the_blob_files_of_the_record_it_deletes()
    {
        using var store = NewStore();
        var blob = SaveBlob(store.Blobs, "f", Json("bytes"));
        store.ApplyReplicated([Rec("r", V(BaseMs), "{}", blob)]);

        store.ApplyReplicated([Tombstone("r", V(BaseMs + 1))]);

        Assert.False(HasFile(store, blob));
    }

    // ---------------------------------------------------------------- blobs of a record

    [Fact]
    public void PutData_replaces_the_data_and_keeps_the_blobs()
    {
        using var store = NewStore();
        var blob = SaveBlob(store.Blobs, "f", Json("bytes"));
        store.PutBlob("t", "r", blob);

        store.PutData("t", "r", Json("""{"v":2}"""));

        var record = store.Get("t", "r")!;
        Assert.Equal("""{"v":2}""", Text(record));
        AssertBlobs([blob], record.Blobs);
        Assert.True(store.Blobs.Verify(blob));
    }

    [Fact]
    public void PutBlob_on_a_missing_record_creates_an_empty_one()
    {
        using var store = NewStore();
        var blob = SaveBlob(store.Blobs, "f", Json("bytes"));
        store.PutBlob("t", "r", blob);
        Assert.Equal("{}", Text(store.Get("t", "r")));
        AssertBlobs([blob], [store.Get("t", "r")!.Blob("f")!]);
    }

    [Fact]
    public void A_blob_replaced_by_a_newer_upload_has_its_old_file_deleted()
    {
        using var store = NewStore();
        var old = SaveBlob(store.Blobs, "f", Json("old"));
        var other = SaveBlob(store.Blobs, "g", Json("other"));
        store.PutBlob("t", "r", old);
        store.PutBlob("t", "r", other);

        var fresh = SaveBlob(store.Blobs, "f", Json("new"));
        store.PutBlob("t", "r", fresh);

        Assert.False(HasFile(store, old));
        Assert.True(store.Blobs.Verify(fresh));
        Assert.True(store.Blobs.Verify(other));
        AssertBlobs([fresh, other], store.Get("t", "r")!.Blobs);
    }

    [Fact]
    public void A_replicated_version_that_drops_a_blob_deletes_its_file_and_keeps_the_others()
    {
        using var store = NewStore();
        var dropped = SaveBlob(store.Blobs, "a", Json("dropped"));
        var kept = SaveBlob(store.Blobs, "b", Json("kept"));
        store.ApplyReplicated([Rec("r", V(BaseMs), "{}", dropped, kept)]);

        store.ApplyReplicated([Rec("r", V(BaseMs + 1), """{"v":2}""", kept)]);

        Assert.False(HasFile(store, dropped));
        Assert.True(store.Blobs.Verify(kept));
    }

    [Fact]
    public void A_stale_version_does_not_delete_the_blobs_of_the_current_one()
    {
        using var store = NewStore();
        var current = SaveBlob(store.Blobs, "a", Json("current"));
        store.ApplyReplicated([Rec("r", V(BaseMs + 2), "{}", current)]);

        store.ApplyReplicated([Rec("r", V(BaseMs + 1), "{}")]);

        Assert.True(store.Blobs.Verify(current));
    }

    // ---------------------------------------------------------------- audit log

    [Fact]
    public void Each_change_gets_the_next_sequence_and_is_audited_in_order()
    {
        using var store = NewStore("node-a");
        var blob = SaveBlob(store.Blobs, "f", Json("bytes"));
        var writes = new List<LocalWrite>
        {
            store.PutData("t", "a", Json("{}")),
            store.PutData("t", "b", Json("{}")),
            store.PutBlob("t", "a", blob),
            store.Delete("t", "b")!,
        };
        var replicated = store.ApplyReplicated([Rec("c", V(BaseMs + 10_000))]).Single();

        Assert.Equal([1L, 2, 3, 4], writes.Select(w => w.Sequence));
        Assert.Equal(5, replicated.LocalSequence);
        Assert.Equal(5, store.LastSequence);
        var audit = store.ReadAudit(1, 100);
        Assert.Equal([1L, 2, 3, 4, 5], audit.Select(e => e.Sequence));
        Assert.Equal(["a", "b", "a", "b", "c"], audit.Select(e => e.Id));
        Assert.Equal(writes.Select(w => w.Record.Version).Append(V(BaseMs + 10_000)), audit.Select(e => e.Version));
    }

    [Fact]
    public void ReadAudit_from_any_sequence_returns_the_rest_in_order()
    {
        using var store = NewStore();
        for (var i = 0; i < 20; i++) store.PutData("t", "r" + i, Json("{}"));

        for (long from = 0; from <= 22; from++)
        {
            var expected = Enumerable.Range(1, 20).Select(s => (long)s).Where(s => s >= from).ToArray();
            Assert.Equal(expected, store.ReadAudit(from, 100).Select(e => e.Sequence));
        }
        Assert.Equal([6L, 7, 8], store.ReadAudit(6, 3).Select(e => e.Sequence));
        Assert.Equal("r5", store.ReadAudit(6, 1).Single().Id);
    }

    [Fact]
    public void Only_changes_that_won_are_audited()
    {
        using var store = NewStore();
        store.ApplyReplicated([Rec("r", V(BaseMs + 5))]);
        store.ApplyReplicated([Rec("r", V(BaseMs + 1))]);
        store.ApplyReplicated([Rec("r", V(BaseMs + 5))]);
        store.ApplyReplicated([Rec("r", V(BaseMs + 9))]);

        Assert.Equal([V(BaseMs + 5), V(BaseMs + 9)], store.ReadAudit(1, 100).Select(e => e.Version));
        Assert.Equal(2, store.LastSequence);
    }

    [Fact]
    public void Appended_reports_each_new_last_sequence_and_nothing_for_dropped_records()
    {
        using var store = NewStore();
        var reported = new List<long>();
        store.Appended += reported.Add;

        store.PutData("t", "a", Json("{}"));
        store.ApplyReplicated([Rec("b", V(BaseMs + 100_000)), Rec("c", V(BaseMs + 100_000))]);
        store.ApplyReplicated([Rec("b", V(BaseMs))]); // stale
        store.Delete("t", "missing");

        Assert.Equal([1L, 3], reported);
    }

    [Fact]
    public void Retention_keeps_the_newest_entries_and_moves_the_first_retained_sequence_up()
    {
        const int retention = 10;
        using var store = NewStore(auditRetention: retention);
        Assert.Equal(1, store.FirstRetainedSequence);

        for (var i = 0; i < 150; i++) store.PutData("t", "r" + (i % 7), Json($$"""{"i":{{i}}}"""));

        Assert.Equal(150, store.LastSequence);
        Assert.Equal(150 - retention + 1, store.FirstRetainedSequence);
        var audit = store.ReadAudit(1, 1000);
        Assert.Equal(Enumerable.Range(141, retention).Select(s => (long)s), audit.Select(e => e.Sequence));
        Assert.Equal(audit, store.ReadAudit(store.FirstRetainedSequence, 1000));
    }

    /// <summary>
    /// Issue 8: a replicated frame appends hundreds of entries in one commit; the log must not outgrow the retention
    /// under that load, and a log already over it (the retention lowered at a restart) comes back to it.
    /// </summary>
    [Fact]
    public void Retention_holds_under_replicated_frames_of_hundreds_of_entries_and_a_log_over_it_converges()
    {
        const int retention = 100;
        const int frameRecords = 512;
        var settings = NewSettings(auditRetention: retention);
        using (var store = OpenStore(settings))
        {
            for (var frame = 0; frame < 20; frame++)
            {
                store.ApplyReplicated(Enumerable.Range(0, frameRecords).Select(i => Rec($"f{frame}-{i}", V(BaseMs + frame))).ToArray());
                var kept = store.LastSequence - store.FirstRetainedSequence + 1;
                Assert.True(kept <= retention, $"after frame {frame}: {kept} audit entries kept, over the retention of {retention}");
            }
            Assert.Equal(20L * frameRecords, store.LastSequence);
            Assert.Equal(retention, store.ReadAudit(1, 100_000).Count);
        }

        // Reopened with a retention far below what the log holds: every commit trims a bounded step more than it adds.
        using (var store = OpenStore(settings with { AuditRetentionEntries = 10 }))
        {
            var commits = 0;
            while (store.LastSequence - store.FirstRetainedSequence + 1 > 10)
            {
                Assert.True(++commits <= retention, $"the log still holds {store.LastSequence - store.FirstRetainedSequence + 1} entries after {commits} commits");
                store.ApplyReplicated(Enumerable.Range(0, 8).Select(i => Rec($"late{commits}-{i}", V(BaseMs + 100))).ToArray());
            }
            output.WriteLine($"the log converged on the lowered retention in {commits} commits");
            store.ApplyReplicated([Rec("after", V(BaseMs + 100))]);
            Assert.Equal(10, store.LastSequence - store.FirstRetainedSequence + 1);
        }
    }

    [Fact]
    public void LastSequence_and_the_audit_survive_a_reopen()
    {
        var settings = NewSettings();
        IReadOnlyList<AuditEntry> before;
        using (var store = OpenStore(settings))
        {
            for (var i = 0; i < 5; i++) store.PutData("t", "r" + i, Json("{}"));
            store.Delete("t", "r1");
            before = store.ReadAudit(1, 100);
        }

        using (var store = OpenStore(settings))
        {
            Assert.Equal(6, store.LastSequence);
            Assert.Equal(before, store.ReadAudit(1, 100));
            Assert.Equal(7, store.PutData("t", "x", Json("{}")).Sequence);
            Assert.True(store.Get("t", "r1")!.Deleted);
            Assert.Equal(["r0", "r2", "r3", "r4", "x"], store.Scan(null, 100).Where(r => !r.Deleted).Select(r => r.Id));
        }
    }

    [Fact]
    public void An_empty_store_starts_at_sequence_zero_and_retains_from_one()
    {
        using var store = NewStore();
        Assert.Equal(0, store.LastSequence);
        Assert.Equal(1, store.FirstRetainedSequence);
        Assert.Empty(store.ReadAudit(1, 10));
    }

    // ---------------------------------------------------------------- scan

    [Fact]
    public void Scan_returns_records_by_table_then_id_in_pages()
    {
        using var store = NewStore();
        foreach (var (table, id) in new[] { ("b", "2"), ("a", "3"), ("b", "1"), ("a", "1"), ("ab", "1") })
            store.PutData(table, id, Json("{}"));

        Assert.Equal(["a/1", "a/3", "ab/1", "b/1", "b/2"], store.Scan(null, 100).Select(r => $"{r.Table}/{r.Id}"));
        Assert.Equal(["a/1", "a/3"], store.Scan(null, 100, "a").Select(r => $"{r.Table}/{r.Id}"));

        var firstPage = store.Scan(null, 2);
        var secondPage = store.Scan(RecordCodec.Key(firstPage[^1].Table, firstPage[^1].Id), 2);
        Assert.Equal(["ab/1", "b/1"], secondPage.Select(r => $"{r.Table}/{r.Id}"));
        var inTable = store.Scan(RecordCodec.Key("b", "1"), 10, "b");
        Assert.Equal(["b/2"], inTable.Select(r => $"{r.Table}/{r.Id}"));
    }

    // ---------------------------------------------------------------- node id

    [Fact]
    public void Node_id_is_made_on_first_open_and_kept_after_reopen()
    {
        var settings = NewSettings();
        string first;
        using (var store = OpenStore(settings)) first = store.NodeId;

        Assert.True(RecordStore.IsValidNodeId(first), first);
        using (var store = OpenStore(settings)) Assert.Equal(first, store.NodeId);
        using (var other = NewStore()) Assert.NotEqual(first, other.NodeId);
    }

    [Fact]
    public void A_configured_node_id_is_used_and_kept()
    {
        var settings = NewSettings("node-7");
        using (var store = OpenStore(settings))
        {
            Assert.Equal("node-7", store.NodeId);
            Assert.Equal("node-7", store.PutData("t", "r", Json("{}")).Record.Version.Origin);
        }
        using (var store = OpenStore(settings with { NodeId = "" })) Assert.Equal("node-7", store.NodeId);
    }

    [Fact]
    public void A_configured_node_id_different_from_the_stored_one_fails_to_open_naming_the_key()
    {
        var settings = NewSettings("node-7");
        using (OpenStore(settings)) { }

        var error = Assert.ThrowsAny<Exception>(() => OpenStore(settings with { NodeId = "node-8" }));

        Assert.Contains("cluster-node.node-id", error.Message);
        Assert.Contains("node-8", error.Message);
        Assert.Contains("node-7", error.Message);
        // The failed open let go of the directory: the right id still opens it.
        using var store = OpenStore(settings);
        Assert.Equal("node-7", store.NodeId);
    }

    [Theory]
    [InlineData("has space")]
    [InlineData("../up")]
    [InlineData("..")]
    public void An_invalid_configured_node_id_fails_to_open_naming_the_key(string nodeId)
    {
        var error = Assert.ThrowsAny<Exception>(() => NewStore(nodeId));
        Assert.Contains("cluster-node.node-id", error.Message);
    }

    // ---------------------------------------------------------------- orphans

    [Fact]
    public void A_blob_file_no_record_references_is_removed_when_the_store_is_reopened()
    {
        var settings = NewSettings();
        BlobRef orphan, kept;
        using (var store = OpenStore(settings))
        {
            kept = SaveBlob(store.Blobs, "f", Json("kept"));
            store.PutBlob("t", "r", kept);
            // A crash between the blob's commit and its record's transaction.
            orphan = SaveBlob(store.Blobs, "f", Json("orphan"));
        }

        using (var store = OpenStore(settings))
        {
            Assert.False(HasFile(store, orphan));
            Assert.True(store.Blobs.Verify(kept));
            Assert.Equal([kept.FileId], store.Blobs.FileIds());
        }
    }

    [Fact]
    public void A_temp_file_left_in_blobs_tmp_is_removed_at_start()
    {
        var settings = NewSettings();
        using (OpenStore(settings)) { }
        var leftover = Path.Combine(settings.DataDirectory, "blobs", "tmp", Guid.NewGuid().ToString("N") + ".tmp");
        File.WriteAllBytes(leftover, Json("half a blob"));

        using (OpenStore(settings)) Assert.False(File.Exists(leftover));
    }

    // ---------------------------------------------------------------- bugs

    [Fact]
    public void A_frame_that_fails_midway_leaves_no_gap_in_the_sequence()
    {
        // A small map: the frame's second record does not fit, so the whole frame's transaction fails.
        using var store = OpenStore(NewSettings() with { MapSizeBytes = 1L << 20 });
        var fits = Rec("fits", V(BaseMs));
        var tooBig = new StoredRecord("t", "too-big", V(BaseMs), false, new byte[2 << 20], []);

        var error = Assert.Throws<StoreFullException>(() => store.ApplyReplicated([fits, tooBig]));
        Assert.Contains("cluster-node.lmdb.map-size", error.Message);

        Assert.Null(store.Get("t", "fits"));
        Assert.Equal(0, store.LastSequence);
        Assert.Equal(1, store.PutData("t", "next", Json("{}")).Sequence);
        Assert.Equal([1L], store.ReadAudit(1, 10).Select(e => e.Sequence));
    }

    [Fact]
    public void A_write_refused_for_lack_of_disk_space_is_told_apart_from_other_io_errors()
    {
        // /dev/full refuses every write with ENOSPC, as a full disk does; the HTTP API answers 507 for it.
        if (File.Exists("/dev/full"))
        {
            var full = Assert.ThrowsAny<IOException>(() =>
            {
                using var stream = new FileStream("/dev/full", FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
                stream.Write(new byte[4096]);
            });
            Assert.True(StoreFullException.IsOutOfDiskSpace(full), $"not seen as a full disk: {full.GetType().Name} {full.HResult}: {full.Message}");
        }
        Assert.False(StoreFullException.IsOutOfDiskSpace(new IOException("some other failure")));
        Assert.False(StoreFullException.IsOutOfDiskSpace(new FileNotFoundException("gone")));
    }

    [Fact]
    public void A_record_larger_than_the_codec_limit_is_refused_rather_than_stored_unreadable()
    {
        var settings = NewSettings();
        var tooLarge = new byte[RecordCodec.MaxDataBytes + 1];
        using (var store = OpenStore(settings))
        {
            try { store.PutData("t", "big", tooLarge); }
            catch (Exception refused) when (refused is ArgumentException or InvalidOperationException or FormatException)
            {
                // Refusing the write is the right answer: nothing was stored.
            }
            var error = Record.Exception(() => store.Get("t", "big"));
            Assert.Null(error);
        }
        var reopen = Record.Exception(() => OpenStore(settings).Dispose());
        Assert.Null(reopen);
    }
}
