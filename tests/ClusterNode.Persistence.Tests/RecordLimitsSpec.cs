using System.Security.Cryptography;
using System.Text;
using ClusterNode.Persistence.Binary;
using ClusterNode.Persistence.Blobs;
using ClusterNode.Persistence.Records;
using Xunit;

namespace ClusterNode.Persistence.Tests;

/// <summary>
/// Every local write checks the record it would make against the store's limits before writing anything: at a
/// limit the write is taken, one past it is refused with an exception naming the limit and its value, and the
/// store is left exactly as it was (same last sequence, same records, same audit log).
/// </summary>
public sealed class RecordLimitsSpec : IDisposable
{
    private static readonly string LongName = new('n', Names.MaxLength);
    private readonly List<TempDirectory> _directories = [];

    public void Dispose()
    {
        foreach (var dir in _directories) dir.Dispose();
    }

    private RecordStore NewStore(RecordLimits limits)
    {
        var dir = new TempDirectory("cn-limits");
        _directories.Add(dir);
        return RecordStore.Open(new RecordStoreSettings(dir.FullPath, "local", 64L << 20, Limits: limits));
    }

    private static BlobRef SaveBlob(RecordStore store, string field, byte[] bytes)
    {
        using var writer = store.Blobs.BeginWrite();
        writer.Append(bytes);
        var blob = writer.Commit(field, BlobStore.NewFileId(), bytes.Length, SHA256.HashData(bytes));
        store.Blobs.SyncDirectory();
        return blob;
    }

    /// <summary>A distinct field name of the longest allowed length.</summary>
    private static string Field(int index) => $"f{index:D4}".PadRight(Names.MaxLength, 'x');

    /// <summary>Everything a refused write must leave as it was: last sequence, audit log and every record.</summary>
    private static string State(RecordStore store)
    {
        var text = new StringBuilder().Append(store.LastSequence).Append('\n');
        foreach (var entry in store.ReadAudit(1, int.MaxValue)) text.Append($"{entry.Sequence} {entry.Table}/{entry.Id} {entry.Version}\n");
        foreach (var record in store.Scan(null, int.MaxValue))
        {
            text.Append($"{record.Table}/{record.Id} {record.Version} {record.Deleted} {Convert.ToHexString(record.Data)}");
            foreach (var blob in record.Blobs) text.Append($" {blob.Field}={blob.FileId}:{blob.Size}:{blob.Sha256Hex}");
            text.Append('\n');
        }
        return text.ToString();
    }

    private static RecordLimitExceededException AssertRefused(RecordStore store, Func<object?> write, RecordLimitKind kind, params string[] mentions)
    {
        var before = State(store);
        var error = Assert.Throws<RecordLimitExceededException>(write);
        Assert.Equal(kind, error.Kind);
        foreach (var mention in mentions) Assert.Contains(mention, error.Message);
        Assert.Equal(before, State(store));
        return error;
    }

    [Fact]
    public void Data_at_record_max_size_is_accepted_and_one_byte_more_is_refused_changing_nothing()
    {
        using var store = NewStore(RecordLimits.Format with { MaxDataBytes = 1000 });
        store.PutData("t", "r", new byte[1000]);

        AssertRefused(store, () => store.PutData("t", "r", new byte[1001]), RecordLimitKind.DataSize, "cluster-node.record.max-size", "1000", "1001");
        AssertRefused(store, () => store.PutData("t", "new", new byte[1001]), RecordLimitKind.DataSize);
        Assert.Null(store.Get("t", "new"));
    }

    [Fact]
    public void A_blob_field_past_max_blob_fields_is_refused_changing_nothing_and_a_field_at_the_limit_can_still_be_replaced()
    {
        using var store = NewStore(RecordLimits.Format with { MaxBlobFields = 3 });
        for (var i = 0; i < 3; i++) store.PutBlob("t", LongName, SaveBlob(store, Field(i), [(byte)i]));

        var extra = SaveBlob(store, Field(3), [3]);
        Assert.Equal(RecordLimitKind.BlobFields, store.PutBlobProblem("t", LongName, Field(3), 1)?.Kind);
        AssertRefused(store, () => store.PutBlob("t", LongName, extra), RecordLimitKind.BlobFields, "cluster-node.record.max-blob-fields", "(3)", "4 blob fields");

        Assert.Null(store.PutBlobProblem("t", LongName, Field(1), 1));
        store.PutBlob("t", LongName, SaveBlob(store, Field(1), [9]));
        Assert.Equal(3, store.Get("t", LongName)!.Blobs.Count);
    }

    [Fact]
    public void A_record_that_would_outgrow_a_replication_frame_is_refused_at_the_exact_byte()
    {
        using var store = NewStore(RecordLimits.Format);
        for (var i = 0; i < 5; i++) store.PutBlob("t", "r", SaveBlob(store, Field(i), [(byte)i]));
        // The frame size of the record once it holds 100 bytes of data; what its version says does not change it.
        var frameBytes = RecordLimits.FrameBytes(store.Get("t", "r")! with { Data = new byte[100] });
        store.Limits = RecordLimits.Format with { MaxFrameBytes = (int)frameBytes };

        store.PutData("t", "r", new byte[100]);
        AssertRefused(store, () => store.PutData("t", "r", new byte[101]), RecordLimitKind.FrameSize,
            $"{frameBytes + 1} bytes in a replication frame", $"over the {frameBytes} bytes");
        // A field more is as many bytes more in the frame.
        Assert.Equal(RecordLimitKind.FrameSize, store.PutBlobProblem("t", "r", "one-more", 1)?.Kind);
        AssertRefused(store, () => store.PutBlob("t", "r", SaveBlob(store, "one-more", [1])), RecordLimitKind.FrameSize);
    }

    [Fact]
    public void A_blob_over_blob_max_size_is_refused_changing_nothing()
    {
        using var store = NewStore(RecordLimits.Format with { MaxBlobBytes = 10 });
        store.PutBlob("t", "r", SaveBlob(store, "a", new byte[10]));

        AssertRefused(store, () => store.PutBlob("t", "r", SaveBlob(store, "b", new byte[11])), RecordLimitKind.BlobSize, "cluster-node.blob.max-size", "(10 bytes)", "11 bytes");
    }

    [Fact]
    public void A_name_a_follower_would_refuse_is_refused_by_the_write_itself()
    {
        using var store = NewStore(RecordLimits.Format);
        store.PutData("t", "kept", "{}"u8.ToArray());

        AssertRefused(store, () => store.PutData("t", "a/b", "{}"u8.ToArray()), RecordLimitKind.Name, "record id");
        AssertRefused(store, () => store.PutData(LongName + "x", "r", "{}"u8.ToArray()), RecordLimitKind.Name, "table");
        AssertRefused(store, () => store.PutBlob("t", "kept", SaveBlob(store, "..", [1])), RecordLimitKind.Name, "blob field");
    }

    [Fact]
    public void Limits_tightened_at_run_time_apply_to_the_next_write_and_a_delete_still_passes()
    {
        using var store = NewStore(RecordLimits.Format);
        for (var i = 0; i < 3; i++) store.PutBlob("t", "r", SaveBlob(store, Field(i), [(byte)i]));

        var tightened = store.TightenLimits(RecordLimits.Format with { MaxBlobFields = 2, MaxDataBytes = 500 });
        Assert.Equal(RecordLimits.Format with { MaxBlobFields = 2, MaxDataBytes = 500 }, tightened);
        Assert.Equal(tightened, store.Limits);
        // Tightening never loosens: a larger limit leaves the smaller one in place.
        Assert.Equal(tightened, store.TightenLimits(RecordLimits.Format with { MaxBlobFields = 10 }));

        AssertRefused(store, () => store.PutData("t", "r", "{}"u8.ToArray()), RecordLimitKind.BlobFields, "(2)");
        Assert.NotNull(store.Delete("t", "r"));
        Assert.True(store.Get("t", "r")!.Deleted);
    }

    [Fact]
    public void Min_takes_the_smaller_of_every_limit()
    {
        var a = new RecordLimits(MaxDataBytes: 100, MaxBlobFields: 8, MaxBlobBytes: 5000, MaxFrameBytes: 70_000);
        var b = new RecordLimits(MaxDataBytes: 200, MaxBlobFields: 4, MaxBlobBytes: 9000, MaxFrameBytes: 60_000);
        Assert.Equal(new RecordLimits(100, 4, 5000, 60_000), a.Min(b));
        Assert.Equal(a.Min(b), b.Min(a));
    }

    [Fact]
    public void Body_bytes_are_the_bytes_the_codec_writes()
    {
        var records = new[]
        {
            new StoredRecord("t", "r", new RecordVersion(1, "n"), false, [], []),
            new StoredRecord("t", "r", new RecordVersion(1, "n"), true, [], []),
            RecordLimits.LargestRecord(300, 7),
            new StoredRecord("tä", "r", new RecordVersion(ulong.MaxValue, "node-ü"), false, "{\"a\":\"é\"}"u8.ToArray(),
                [new BlobRef("photo", BlobStore.NewFileId(), 123, new byte[32])]),
        };
        foreach (var record in records)
        {
            var writer = new ByteWriter();
            RecordCodec.WriteBody(writer, record);
            Assert.Equal(writer.Length, RecordCodec.BodyBytes(record));
        }
    }
}
