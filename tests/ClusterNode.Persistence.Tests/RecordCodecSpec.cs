using System.Security.Cryptography;
using ClusterNode.Persistence.Binary;
using ClusterNode.Persistence.Records;
using Xunit;

namespace ClusterNode.Persistence.Tests;

/// <summary>
/// The binary layouts shared by LMDB and the wire: what is written reads back equal, and anything truncated or
/// foreign fails with a FormatException that says which field was wrong instead of reading garbage.
/// </summary>
public sealed class RecordCodecSpec
{
    private static readonly StoredRecord WithBlobs = new(
        "orders", "order-17", new RecordVersion(0x0000_0123_4567_0009, "node-a"), false, """{"total":42}"""u8.ToArray(),
        [
            new BlobRef("invoice", "0123456789abcdef0123456789abcdef", 12_345, SHA256.HashData("invoice"u8)),
            new BlobRef("photo", "fedcba9876543210fedcba9876543210", 0, SHA256.HashData([])),
        ]);

    private static StoredRecord Decode(StoredRecord like, byte[] value) =>
        RecordCodec.DecodeValue(RecordCodec.Key(like.Table, like.Id), value);

    private static void AssertSame(StoredRecord expected, StoredRecord actual)
    {
        Assert.Equal(expected.Table, actual.Table);
        Assert.Equal(expected.Id, actual.Id);
        Assert.Equal(expected.Version, actual.Version);
        Assert.Equal(expected.Deleted, actual.Deleted);
        Assert.Equal(expected.Data, actual.Data);
        Assert.Equal(expected.Blobs.Count, actual.Blobs.Count);
        for (var i = 0; i < expected.Blobs.Count; i++)
        {
            Assert.Equal(expected.Blobs[i].Field, actual.Blobs[i].Field);
            Assert.True(expected.Blobs[i].SameContentAs(actual.Blobs[i]), $"blob {i} differs");
        }
    }

    [Fact]
    public void A_record_with_blobs_round_trips()
    {
        AssertSame(WithBlobs, Decode(WithBlobs, RecordCodec.EncodeValue(WithBlobs)));
    }

    [Fact]
    public void A_tombstone_round_trips()
    {
        var tombstone = new StoredRecord("t", "gone", new RecordVersion(ulong.MaxValue, "z"), true, [], []);
        AssertSame(tombstone, Decode(tombstone, RecordCodec.EncodeValue(tombstone)));
    }

    [Fact]
    public void Non_ascii_names_and_data_round_trip()
    {
        var record = new StoredRecord("tåble", "ïd-日本", new RecordVersion(1, "nøde"), false, "{\"ü\":\"✓\"}"u8.ToArray(), []);
        AssertSame(record, Decode(record, RecordCodec.EncodeValue(record)));
        Assert.Equal(("tåble", "ïd-日本"), RecordCodec.ParseKey(RecordCodec.Key("tåble", "ïd-日本")));
    }

    [Fact]
    public void An_audit_entry_round_trips()
    {
        var entry = new AuditEntry(99, "orders", "order-17", new RecordVersion(0xABCDEF, "node-b"));
        Assert.Equal(entry, RecordCodec.DecodeAudit(99, RecordCodec.EncodeAudit(entry)));
    }

    [Fact]
    public void Sequence_keys_sort_in_sequence_order()
    {
        long[] sequences = [1, 2, 255, 256, 65_536, long.MaxValue];
        var keys = sequences.Select(RecordCodec.SequenceKey).ToList();
        for (var i = 1; i < keys.Count; i++)
            Assert.True(keys[i - 1].AsSpan().SequenceCompareTo(keys[i]) < 0, $"{sequences[i - 1]} sorts after {sequences[i]}");
        Assert.Equal(sequences, keys.Select(k => RecordCodec.ParseSequenceKey(k)));
    }

    [Fact]
    public void A_key_without_a_table_separator_fails_clearly()
    {
        var error = Assert.Throws<FormatException>(() => RecordCodec.DecodeValue("no-separator"u8, RecordCodec.EncodeValue(WithBlobs)));
        Assert.Contains("separator", error.Message);
    }

    [Fact]
    public void A_stored_record_with_an_unknown_format_byte_fails_clearly()
    {
        var value = RecordCodec.EncodeValue(WithBlobs);
        value[0] = 9;

        var error = Assert.Throws<FormatException>(() => Decode(WithBlobs, value));

        Assert.Contains("unknown format 9", error.Message);
        Assert.Contains("orders/order-17", error.Message);
    }

    [Fact]
    public void A_stored_record_truncated_anywhere_fails_naming_the_field()
    {
        var value = RecordCodec.EncodeValue(WithBlobs);
        for (var length = 0; length < value.Length; length++)
        {
            var error = Assert.Throws<FormatException>(() => Decode(WithBlobs, value[..length]));
            Assert.Matches("malformed stored record: field '[A-Za-z0-9.]+'", error.Message);
        }
    }

    [Theory]
    [InlineData(0, "format")]
    [InlineData(5, "version.hlc")]
    [InlineData(10, "version.origin")]
    public void A_stored_record_truncated_in_a_field_names_that_field(int length, string field)
    {
        var value = RecordCodec.EncodeValue(WithBlobs);
        var error = Assert.Throws<FormatException>(() => Decode(WithBlobs, value[..length]));
        Assert.Contains($"field '{field}'", error.Message);
    }

    [Fact]
    public void A_stored_record_truncated_in_a_blob_hash_names_the_hash()
    {
        var value = RecordCodec.EncodeValue(WithBlobs);
        var error = Assert.Throws<FormatException>(() => Decode(WithBlobs, value[..^5]));
        Assert.Contains("field 'blob.sha256'", error.Message);
        Assert.Contains("needs 32 bytes, 27 left", error.Message);
    }

    [Fact]
    public void Trailing_bytes_after_a_stored_record_fail_clearly()
    {
        byte[] value = [.. RecordCodec.EncodeValue(WithBlobs), 0];
        var error = Assert.Throws<FormatException>(() => Decode(WithBlobs, value));
        Assert.Contains("trailing", error.Message);
    }

    [Fact]
    public void A_blob_reference_with_a_hash_of_the_wrong_length_is_refused_on_write()
    {
        var record = WithBlobs with { Blobs = [new BlobRef("f", "0123456789abcdef0123456789abcdef", 1, new byte[20])] };
        var error = Assert.Throws<ArgumentException>(() => RecordCodec.EncodeValue(record));
        Assert.Contains("'f'", error.Message);
    }

    // ---------------------------------------------------------------- ByteReader / ByteWriter

    [Fact]
    public void Every_primitive_round_trips_big_endian()
    {
        var written = new ByteWriter(1)
            .U8(0xAB).Bool(true).Bool(false).U16(0x1234).I32(-2).I64(long.MinValue).U64(ulong.MaxValue)
            .String("héllo").Block([1, 2, 3]).Raw([9, 8])
            .ToArray();

        var reader = new ByteReader(written, "sample");
        Assert.Equal(0xAB, reader.U8("a"));
        Assert.True(reader.Bool("b"));
        Assert.False(reader.Bool("c"));
        Assert.Equal(0x1234, reader.U16("d"));
        Assert.Equal(-2, reader.I32("e"));
        Assert.Equal(long.MinValue, reader.I64("f"));
        Assert.Equal(ulong.MaxValue, reader.U64("g"));
        Assert.Equal("héllo", reader.String("h"));
        Assert.Equal([1, 2, 3], reader.Block("i", 3).ToArray());
        Assert.Equal([9, 8], reader.Raw(2, "j").ToArray());
        reader.ExpectEnd();
        Assert.Equal([0x12, 0x34], written[3..5]);
    }

    [Fact]
    public void Reading_past_the_end_fails_naming_the_field_and_what_is_missing()
    {
        byte[] bytes = [1, 2, 3];
        var error = Assert.Throws<FormatException>(() => new ByteReader(bytes, "frame").U64("frame.sequence"));
        Assert.Equal("malformed frame: field 'frame.sequence': needs 8 bytes, 3 left", error.Message);
    }

    [Fact]
    public void A_string_whose_length_runs_past_the_end_fails_naming_the_field()
    {
        var bytes = new ByteWriter().String("abcdef").ToArray()[..5];
        var error = Assert.Throws<FormatException>(() => new ByteReader(bytes, "frame").String("table"));
        Assert.Contains("field 'table'", error.Message);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(101)]
    public void A_block_length_outside_its_limit_fails_before_reading(int length)
    {
        var bytes = new ByteWriter().I32(length).Raw(new byte[200]).ToArray();
        var error = Assert.Throws<FormatException>(() => new ByteReader(bytes, "frame").Block("data", 100));
        Assert.Contains("field 'data'", error.Message);
        Assert.Contains($"length {length} outside 0..100", error.Message);
    }

    [Fact]
    public void A_boolean_byte_other_than_0_or_1_fails_naming_the_field()
    {
        var error = Assert.Throws<FormatException>(() => new ByteReader([2], "record").Bool("deleted"));
        Assert.Contains("field 'deleted'", error.Message);
    }

    [Fact]
    public void A_string_too_long_for_its_length_prefix_is_refused_on_write()
    {
        Assert.Throws<ArgumentException>(() => new ByteWriter().String(new string('x', ushort.MaxValue + 1)));
    }

    // ---------------------------------------------------------------- bugs

    [Fact]
    public void Data_over_the_limit_is_refused_on_write_not_on_read()
    {
        var record = WithBlobs with { Data = new byte[RecordCodec.MaxDataBytes + 1] };
        byte[]? value = null;
        var refused = Record.Exception(() => value = RecordCodec.EncodeValue(record));
        if (refused is null) AssertSame(record, Decode(record, value!));
    }

    [Fact]
    public void An_audit_entry_with_an_unknown_format_byte_fails_clearly()
    {
        var value = RecordCodec.EncodeAudit(new AuditEntry(1, "t", "r", new RecordVersion(1, "n")));
        value[0] = 9;
        var error = Assert.Throws<FormatException>(() => RecordCodec.DecodeAudit(1, value));
        Assert.Contains("format", error.Message);
    }
}
