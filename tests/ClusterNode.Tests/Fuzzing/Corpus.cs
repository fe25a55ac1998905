using System.Security.Cryptography;
using System.Text;
using ClusterNode.Actors.Replication;
using ClusterNode.Persistence.Binary;
using ClusterNode.Persistence.Blobs;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Tests.Fuzzing;

/// <summary>Real records and frames, the valid inputs that fuzzing mutates.</summary>
public static class Corpus
{
    private static readonly ulong NowHlc = (ulong)DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() << 16;

    public static BlobRef Blob(string field, int size)
    {
        var bytes = new byte[size];
        new Random(size).NextBytes(bytes);
        return new BlobRef(field, BlobStore.NewFileId(), size, SHA256.HashData(bytes));
    }

    public static readonly StoredRecord[] Records =
    [
        new("people", "alice", new RecordVersion(NowHlc, "node-1"), false, Encoding.UTF8.GetBytes("""{"name":"Alice"}"""), []),
        new("people", "bob", new RecordVersion(NowHlc + 1, "node-2"), false, Encoding.UTF8.GetBytes("""{"n":[1,2,{"x":null}]}"""),
            [Blob("photo", 300_000), Blob("thumb", 1_000)]),
        new("docs", "rec-00001", new RecordVersion(NowHlc + 2, "n3"), true, [], []),
        new("t", "x.y_z-1", new RecordVersion(1, "a"), false, Encoding.UTF8.GetBytes("{}"), [Blob("f", 0)]),
    ];

    /// <summary>A frame payload of <paramref name="records"/> at sequences after..after+n; the blobs of the second marked unavailable.</summary>
    public static byte[] Payload(long after, IReadOnlyList<StoredRecord> records)
    {
        var writer = new ByteWriter(1024);
        for (var i = 0; i < records.Count; i++)
            RecordFrameCodec.Append(writer, after + 1 + i, records[i], i == 1 ? records[i].Blobs.Take(1).Select(b => b.FileId).ToArray() : null);
        return writer.ToArray();
    }

    public static IEnumerable<RecordFrame> Frames()
    {
        yield return new RecordFrame(1, 10, 10 + Records.Length, Records.Length, Payload(10, Records));
        yield return new RecordFrame(1, 10, 11, 1, Payload(10, Records[..1]));
        yield return new RecordFrame(1, 10, 12, 2, Payload(10, Records[1..3]));
        yield return new RecordFrame(1, 10, 20, 0, []);
    }
}
