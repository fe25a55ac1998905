using System.Buffers.Binary;
using System.Text;

namespace ClusterNode.Persistence.Journal;

/// <summary>
/// Keys of journal events and snapshots: the persistence id in UTF-8, a 0x00 separator, then the sequence number
/// as 8 big-endian bytes, so that LMDB's byte order is (persistence id, numeric sequence number) order and one
/// persistence id's entries are one contiguous range.
/// </summary>
public static class LmdbSequenceKey
{
    public const int SequenceNrBytes = 8;

    /// <summary>The key bytes shared by every entry of <paramref name="persistenceId"/>: its UTF-8 and the separator.</summary>
    /// <param name="maxKeyBytes">LMDB's key size limit (511 bytes in a default build).</param>
    /// <exception cref="ArgumentException">The id is empty, contains U+0000 (the separator) or is too long for a key.</exception>
    public static byte[] Prefix(string persistenceId, int maxKeyBytes)
    {
        if (string.IsNullOrEmpty(persistenceId)) throw new ArgumentException("a persistence id must not be empty", nameof(persistenceId));
        // A NUL inside the id would let one id's keys fall inside another id's range.
        if (persistenceId.Contains('\0')) throw new ArgumentException($"persistence id '{persistenceId}' contains U+0000", nameof(persistenceId));
        var idBytes = Encoding.UTF8.GetByteCount(persistenceId);
        var maxIdBytes = maxKeyBytes - 1 - SequenceNrBytes;
        if (idBytes > maxIdBytes)
            throw new ArgumentException($"persistence id of {idBytes} UTF-8 bytes is longer than the {maxIdBytes} an LMDB key allows", nameof(persistenceId));
        var prefix = new byte[idBytes + 1];
        Encoding.UTF8.GetBytes(persistenceId, prefix);
        prefix[idBytes] = 0x00;
        return prefix;
    }

    public static byte[] Encode(ReadOnlySpan<byte> prefix, long sequenceNr)
    {
        if (sequenceNr < 0) throw new ArgumentOutOfRangeException(nameof(sequenceNr), sequenceNr, "sequence numbers are not negative");
        var key = new byte[prefix.Length + SequenceNrBytes];
        prefix.CopyTo(key);
        BinaryPrimitives.WriteInt64BigEndian(key.AsSpan(prefix.Length), sequenceNr);
        return key;
    }

    /// <summary>Reads the sequence number of <paramref name="key"/> if it belongs to <paramref name="prefix"/>'s id.</summary>
    /// <returns>false once a cursor has left the id's range.</returns>
    public static bool TryReadSequenceNr(ReadOnlySpan<byte> key, ReadOnlySpan<byte> prefix, out long sequenceNr)
    {
        if (key.Length != prefix.Length + SequenceNrBytes || !key.StartsWith(prefix))
        {
            sequenceNr = 0;
            return false;
        }
        sequenceNr = BinaryPrimitives.ReadInt64BigEndian(key[prefix.Length..]);
        return true;
    }
}
