using System.Text;
using ClusterNode.Persistence.Journal;
using ClusterNode.Persistence.Snapshot;
using FsCheck;
using FsCheck.Xunit;
using Xunit;

namespace ClusterNode.Persistence.Tests;

/// <summary>
/// Properties of the stored layouts: keys sort as (persistence id, numeric sequence number), values round-trip,
/// and a cut-short value is refused rather than misread. FsCheck prints the seed of a failing run to replay it.
/// </summary>
public sealed class LmdbJournalEntrySpec
{
    private const int MaxKeyBytes = 511;

    [Property(MaxTest = 500)]
    public void Keys_of_one_persistence_id_sort_in_sequence_number_order(NonNull<string> persistenceId, long a, long b, bool small)
    {
        var prefix = LmdbSequenceKey.Prefix(ValidId(persistenceId.Get), MaxKeyBytes);
        // Small numbers, and numbers spread over the whole non-negative range, where every byte of the key counts.
        var first = small ? Math.Abs(a % 1000) : Spread(a);
        var second = small ? Math.Abs(b % 1000) : Spread(b);
        var keyOrder = Math.Sign(LmdbSequenceKey.Encode(prefix, first).AsSpan().SequenceCompareTo(LmdbSequenceKey.Encode(prefix, second)));
        Assert.Equal(Math.Sign(first.CompareTo(second)), keyOrder);
        Assert.True(LmdbSequenceKey.TryReadSequenceNr(LmdbSequenceKey.Encode(prefix, first), prefix, out var read));
        Assert.Equal(first, read);
    }

    [Property(MaxTest = 200)]
    public void Keys_of_another_persistence_id_are_not_read_as_its_own(NonNull<string> persistenceId, NonNull<string> other, NonNegativeInt sequenceNr)
    {
        var id = ValidId(persistenceId.Get);
        var otherId = ValidId(other.Get);
        if (id == otherId) return;
        var key = LmdbSequenceKey.Encode(LmdbSequenceKey.Prefix(otherId, MaxKeyBytes), sequenceNr.Get);
        Assert.False(LmdbSequenceKey.TryReadSequenceNr(key, LmdbSequenceKey.Prefix(id, MaxKeyBytes), out _));
    }

    [Property(MaxTest = 300)]
    public void Journal_entries_round_trip(long timestamp, int serializerId, NonNull<string> manifest, NonNull<string> writerGuid,
        NonNull<string> eventManifest, NonNull<string>[] tags, NonNull<byte[]> payload)
    {
        var entry = new LmdbJournalEntry(timestamp, serializerId, Utf8(manifest.Get), Utf8(writerGuid.Get), Utf8(eventManifest.Get),
            tags.Select(tag => Utf8(tag.Get)).ToArray(), payload.Get);
        var decoded = LmdbJournalEntry.Decode(entry.Encode());
        Assert.Equal(entry with { Tags = decoded.Tags, Payload = decoded.Payload }, decoded);
        Assert.Equal(entry.Tags, decoded.Tags);
        Assert.Equal(entry.Payload, decoded.Payload);
    }

    [Property(MaxTest = 300)]
    public void Snapshot_entries_round_trip_and_expose_their_timestamp(long timestamp, int serializerId, NonNull<string> manifest, NonNull<byte[]> payload)
    {
        var entry = new LmdbSnapshotEntry(timestamp, serializerId, Utf8(manifest.Get), payload.Get);
        var value = entry.Encode();
        var decoded = LmdbSnapshotEntry.Decode(value);
        Assert.Equal(entry with { Payload = decoded.Payload }, decoded);
        Assert.Equal(entry.Payload, decoded.Payload);
        Assert.Equal(timestamp, LmdbSnapshotEntry.ReadTimestampTicks(value));
    }

    [Property(MaxTest = 300)]
    public void A_cut_short_or_extended_journal_entry_is_refused(NonNull<string> manifest, NonNull<byte[]> payload, NonNegativeInt cut, bool extend)
    {
        var value = new LmdbJournalEntry(1, 2, Utf8(manifest.Get), "writer", "", ["tag"], payload.Get).Encode();
        var damaged = extend ? [.. value, 0x00] : value[..(cut.Get % value.Length)];
        Assert.Throws<FormatException>(() => LmdbJournalEntry.Decode(damaged));
    }

    [Fact]
    public void Persistence_ids_that_cannot_be_a_key_are_refused()
    {
        Assert.Throws<ArgumentException>(() => LmdbSequenceKey.Prefix("", MaxKeyBytes));
        Assert.Throws<ArgumentException>(() => LmdbSequenceKey.Prefix("a\0b", MaxKeyBytes));
        Assert.Throws<ArgumentException>(() => LmdbSequenceKey.Prefix(new string('x', MaxKeyBytes - 8), MaxKeyBytes));
        Assert.Equal(MaxKeyBytes - 8, LmdbSequenceKey.Prefix(new string('x', MaxKeyBytes - 9), MaxKeyBytes).Length);
    }

    private static long Spread(long value) => (long)(unchecked((ulong)value * 0x9E3779B97F4A7C15UL) >> 1);

    /// <summary>What survives UTF-8: generated strings may hold lone surrogates, which no UTF-8 store keeps.</summary>
    private static string Utf8(string value) => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(value));

    private static string ValidId(string value)
    {
        var id = Utf8(value).Replace('\0', '_');
        id = id.Length == 0 ? "id" : id;
        return Encoding.UTF8.GetByteCount(id) > 100 ? Utf8(id[..25]) : id;
    }
}
