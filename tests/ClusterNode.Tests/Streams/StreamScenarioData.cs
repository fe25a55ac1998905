using System.Security.Cryptography;
using ClusterNode.Actors.Replication;
using ClusterNode.Persistence.Binary;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Tests.Streams;

/// <summary>Records, blobs and frames for the scenarios of the pure stream cores.</summary>
internal static class StreamScenarioData
{
    private const ulong SomeHlc = 0x019b_76da_a876_0000;

    public static BlobRef Blob(string fileId, int sizeBytes) =>
        new("file", fileId, sizeBytes, SHA256.HashData(Bytes(fileId, sizeBytes)));

    public static byte[] Bytes(string fileId, int sizeBytes)
    {
        var bytes = new byte[sizeBytes];
        new Random(fileId.GetHashCode(StringComparison.Ordinal)).NextBytes(bytes);
        return bytes;
    }

    public static StoredRecord Record(string id, string origin = "peer", params BlobRef[] blobs) =>
        new("t", id, new RecordVersion(SomeHlc + (ulong)id.GetHashCode(StringComparison.Ordinal) % 1000, origin), false, "{}"u8.ToArray(), blobs);

    /// <summary>A record frame of <paramref name="records"/> at their sequences, continuing after <paramref name="after"/>.</summary>
    public static RecordFrame Frame(long epoch, long after, long upTo, params (long Sequence, StoredRecord Record)[] records)
    {
        var payload = new ByteWriter(1024);
        foreach (var (sequence, record) in records) RecordFrameCodec.Append(payload, sequence, record);
        return new RecordFrame(epoch, after, upTo, records.Length, payload.ToArray());
    }

    public static CopyFrame CopyFrame(long epoch, long copyStart, long afterPosition, bool done, params (long Position, StoredRecord Record)[] records)
    {
        var payload = new ByteWriter(1024);
        foreach (var (position, record) in records) RecordFrameCodec.Append(payload, position, record);
        return new CopyFrame(epoch, copyStart, [], afterPosition, records.Length, payload.ToArray(), done);
    }

    public static BlobChunk Chunk(long epoch, long position, BlobRef blob, long offset, int length) =>
        new(epoch, position, blob.FileId, offset, Bytes(blob.FileId, (int)blob.Size)[(int)offset..(int)(offset + length)]);
}
