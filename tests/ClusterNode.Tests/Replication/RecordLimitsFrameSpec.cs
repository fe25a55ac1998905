using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Actors.Replication;
using ClusterNode.Persistence.Binary;
using ClusterNode.Persistence.Records;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Replication;

/// <summary>
/// The property behind the record limits: the largest record the write path accepts (every blob field allowed,
/// every name of the longest, all the data allowed, its blobs marked unavailable as a forwarding node marks them)
/// goes into a frame the sender may send and the follower's decoder takes whole, under several configurations.
/// </summary>
public sealed class RecordLimitsFrameSpec(ITestOutputHelper output)
    : Akka.TestKit.Xunit2.TestKit(ConfigurationFactory.Empty.WithDefaults(), "record-limits-frame", output)
{
    private static readonly string LongName = new('n', Names.MaxLength);

    public static TheoryData<string> Configurations() => new()
    {
        "",
        "cluster-node.record.max-blob-fields = 300",
        """
        akka.remote.dot-netty.tcp.maximum-frame-size = 64 KiB
        cluster-node.replication.frame-size = 32 KiB
        cluster-node.blob.chunk-size = 32 KiB
        cluster-node.record.max-size = 16 KiB
        cluster-node.record.max-blob-fields = 150
        """,
        """
        akka.remote.dot-netty.tcp.maximum-frame-size = 32 KiB
        cluster-node.replication.frame-size = 8 KiB
        cluster-node.blob.chunk-size = 8 KiB
        cluster-node.record.max-size = 4 KiB
        cluster-node.record.max-blob-fields = 100
        """,
    };

    [Theory]
    [MemberData(nameof(Configurations))]
    public void The_largest_record_the_write_path_accepts_must_encode_to_a_frame_the_follower_decodes(string hocon)
    {
        var dir = TestData.TempDirectory("record-limits-frame");
        try
        {
            var settings = ReplicationSettings.Create(ConfigurationFactory.ParseString($$"""
                {{hocon}}
                cluster-node.data-dir = "{{dir.Replace("\\", "/")}}"
                cluster-node.node-id = "{{new string('o', RecordStore.MaxNodeIdLength)}}"
                """));
            using var store = RecordStore.Open(settings.Store);
            var record = WriteLargest(store, settings);
            Output.WriteLine($"{settings.MaxBlobFields} fields, {settings.RecordMaxBytes} bytes of data: {RecordLimits.FrameBytes(record)} frame bytes of {settings.MaxFramePayloadBytes}");

            // Every blob unavailable is the largest encoding; none unavailable is the usual one.
            foreach (var unavailable in new[] { record.Blobs.Select(b => b.FileId).ToHashSet(), [] })
            {
                var sequence = store.LastSequence;
                var payload = new ByteWriter();
                RecordFrameCodec.Append(payload, sequence, record, unavailable);
                if (unavailable.Count > 0) Assert.Equal(RecordLimits.FrameBytes(record), payload.Length);
                Assert.InRange(payload.Length, 1, settings.MaxFramePayloadBytes);

                // Over the wire as the sender sends it; the header must fit the room kept for it.
                var frame = new RecordFrame(1, sequence - 1, sequence, 1, payload.ToArray());
                var serializer = Sys.Serialization.FindSerializerFor(frame);
                var wire = serializer.ToBinary(frame);
                Assert.InRange(wire.Length - payload.Length, 1, FlowControl.HeaderAllowanceBytes);
                var received = (RecordFrame)Sys.Serialization.Deserialize(wire, serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, frame));

                var decoded = Assert.Single(RecordFrameCodec.Decode(received.Payload, received.RecordCount, sequence - 1, received.UpToSequence,
                    settings.RecordMaxBytes, settings.BlobMaxSizeBytes));
                Assert.Equal(sequence, decoded.Sequence);
                Assert.Equal((record.Table, record.Id, record.Version, record.Deleted), (decoded.Record.Table, decoded.Record.Id, decoded.Record.Version, decoded.Record.Deleted));
                Assert.Equal(record.Data, decoded.Record.Data);
                Assert.Equal(record.Blobs.Select(b => (b.Field, b.FileId, b.Size, b.Sha256Hex)), decoded.Record.Blobs.Select(b => (b.Field, b.FileId, b.Size, b.Sha256Hex)));
                Assert.Equal(unavailable.Order(), decoded.UnavailableFileIds.Order());
            }
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>
    /// Through the write path: the longest table and id, all the data and all the blob fields allowed, each named with
    /// the longest name; then one byte or one field more must be refused.
    /// </summary>
    private static StoredRecord WriteLargest(RecordStore store, ReplicationSettings settings)
    {
        var json = "{\"x\":\"" + new string('a', settings.RecordMaxBytes - 8) + "\"}";
        store.PutData(LongName, LongName, System.Text.Encoding.UTF8.GetBytes(json));
        for (var i = 0; i < settings.MaxBlobFields; i++)
            store.PutBlob(LongName, LongName, SaveBlob(store, Field(i), [(byte)i]));
        var record = store.Get(LongName, LongName)!;
        Assert.Equal(settings.RecordMaxBytes, record.Data.Length);
        Assert.Equal(settings.MaxBlobFields, record.Blobs.Count);
        Assert.All(record.Blobs, b => Assert.Equal(Names.MaxLength, b.Field.Length));

        var last = store.LastSequence;
        Assert.Equal(RecordLimitKind.BlobFields,
            Assert.Throws<RecordLimitExceededException>(() => store.PutBlob(LongName, LongName, SaveBlob(store, Field(settings.MaxBlobFields), [1]))).Kind);
        Assert.Equal(RecordLimitKind.DataSize,
            Assert.Throws<RecordLimitExceededException>(() => store.PutData(LongName, LongName, new byte[settings.RecordMaxBytes + 1])).Kind);
        Assert.Equal(last, store.LastSequence);
        return record;
    }

    private static string Field(int index) => $"f{index:D5}".PadRight(Names.MaxLength, 'x');

    private static BlobRef SaveBlob(RecordStore store, string field, byte[] bytes)
    {
        using var writer = store.Blobs.BeginWrite();
        writer.Append(bytes);
        var blob = writer.Commit(field, Persistence.Blobs.BlobStore.NewFileId());
        store.Blobs.SyncDirectory();
        return blob;
    }
}
