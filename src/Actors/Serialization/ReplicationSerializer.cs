using Akka.Actor;
using Akka.Serialization;
using ClusterNode.Actors.Replication;
using ClusterNode.Actors.Watermarks;
using ClusterNode.Persistence.Binary;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Actors.Serialization;

/// <summary>
/// Compact binary serializer for the replication protocol and the cursor store's events: fixed big-endian
/// fields, length-prefixed strings, blob chunks and frame payloads as raw bytes. No reflection, no JSON.
/// Decoding is bounds-checked, so a malformed message fails with a <see cref="FormatException"/> naming the
/// field rather than yielding a wrong message.
/// </summary>
public sealed class ReplicationSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    private const string SubscribeManifest = "S";
    private const string FrameManifest = "F";
    private const string ChunkManifest = "B";
    private const string CreditManifest = "C";
    private const string ReceiptManifest = "R";
    private const string WhoAreYouManifest = "W";
    private const string IdentityManifest = "I";
    private const string CursorAdvancedManifest = "CA";
    private const string CursorSnapshotManifest = "CS";
    private const string CopyFrameManifest = "Y";
    private const string CopyProgressManifest = "CP";
    private const string FetchBlobManifest = "FB";
    private const string PeerIncarnationManifest = "PI";
    private const string BlobPieceManifest = "BP";
    private const string BlobNotHeldManifest = "BN";
    private const string SubscribeRefusedManifest = "SR";

    /// <summary>Bound on any byte block read from the wire, far above anything valid, far below what could hurt.</summary>
    private const int MaxBlockBytes = 256 << 20;

    /// <summary>A record key is a table and an id of at most 128 characters each.</summary>
    private const int MaxKeyBytes = 1024;

    public override int Identifier => 7301;

    private static byte[]? NullIfEmpty(ReadOnlySpan<byte> bytes) => bytes.IsEmpty ? null : bytes.ToArray();

    /// <summary>Snapshots written before peer incarnations were kept end after the copy's key.</summary>
    private static CursorStore.CursorSnapshot ReadSnapshot(ref ByteReader reader)
    {
        var snapshot = new CursorStore.CursorSnapshot(reader.I64("sequence"), reader.I64("copyStart"), NullIfEmpty(reader.Block("copyAfterKey", MaxKeyBytes)));
        return reader.Remaining > 0 ? snapshot with { PeerIncarnation = reader.String("incarnation") } : snapshot;
    }

    public override string Manifest(object o) => o switch
    {
        Subscribe => SubscribeManifest,
        RecordFrame => FrameManifest,
        CopyFrame => CopyFrameManifest,
        CursorStore.CopyProgress => CopyProgressManifest,
        BlobChunk => ChunkManifest,
        Credit => CreditManifest,
        Receipt => ReceiptManifest,
        WhoAreYou => WhoAreYouManifest,
        NodeIdentity => IdentityManifest,
        CursorStore.CursorAdvanced => CursorAdvancedManifest,
        CursorStore.CursorSnapshot => CursorSnapshotManifest,
        FetchBlob => FetchBlobManifest,
        CursorStore.PeerIncarnationSeen => PeerIncarnationManifest,
        BlobPiece => BlobPieceManifest,
        BlobNotHeld => BlobNotHeldManifest,
        SubscribeRefused => SubscribeRefusedManifest,
        _ => throw new ArgumentException($"{GetType().Name} cannot serialize {o.GetType()}"),
    };

    public override byte[] ToBinary(object obj)
    {
        switch (obj)
        {
            case Subscribe s:
                return new ByteWriter(128).String(s.FollowerNodeId).I64(s.Epoch).I64(s.FromSequence).I64(s.WindowBytes)
                    .String(Akka.Serialization.Serialization.SerializedActorPath(s.Receiver)).I64(s.CopyStart).Block(s.CopyAfterKey ?? [])
                    .I32(s.MaxChunkBytes).I32(s.MaxFramePayloadBytes).I64((long)s.OwnWritesAfterHlc).I64((long)s.OwnWritesBeforeHlc).ToArray();
            case CopyFrame y:
                return new ByteWriter(y.Payload.Length + 72).I64(y.Epoch).I64(y.CopyStart).Block(y.StartAfterKey).I64(y.AfterPosition).I32(y.RecordCount).Block(y.Payload).Bool(y.Done).ToArray();
            case CursorStore.CopyProgress p:
                return new ByteWriter(32).I64(p.CopyStart).Block(p.AfterKey).ToArray();
            case RecordFrame f:
                return RecordFrameBytes(f);
            case BlobChunk c:
                return new ByteWriter(c.Bytes.Length + 80).I64(c.Epoch).I64(c.Position).String(c.FileId).I64(c.Offset).Block(c.Bytes).ToArray();
            case Credit c:
                return new ByteWriter(16).I64(c.Epoch).I64(c.HandledBytes).ToArray();
            case Receipt r:
                return new ByteWriter(16).I64(r.Epoch).I64(r.DurableSequence).ToArray();
            case WhoAreYou w:
                return new ByteWriter(8).I64(w.SentAtMs).ToArray();
            case NodeIdentity i:
                return new ByteWriter(128).String(i.NodeId).I64(i.EchoSentAtMs).I64(i.WallClockMs).I64(i.LastSequence)
                    .I32(i.Limits.MaxDataBytes).I32(i.Limits.MaxBlobFields).I64(i.Limits.MaxBlobBytes).I32(i.Limits.MaxFrameBytes)
                    .String(i.IncarnationId).ToArray();
            case CursorStore.CursorAdvanced a:
                return new ByteWriter(8).I64(a.Sequence).ToArray();
            case CursorStore.CursorSnapshot s:
                return new ByteWriter(48).I64(s.Sequence).I64(s.CopyStart).Block(s.CopyAfterKey ?? []).String(s.PeerIncarnation).ToArray();
            case CursorStore.PeerIncarnationSeen p:
                return new ByteWriter(32).String(p.IncarnationId).Bool(p.Reset).ToArray();
            case FetchBlob f:
                return new ByteWriter(160).I64(f.RequestId).String(f.Table).String(f.Id).String(f.FileId).I64(f.Size).Block(f.Sha256).I64(f.Offset).ToArray();
            case BlobPiece p:
                return new ByteWriter(p.Bytes.Length + 64).I64(p.RequestId).String(p.FileId).I64(p.Offset).Block(p.Bytes).Bool(p.Last).ToArray();
            case BlobNotHeld n:
                return new ByteWriter(128).I64(n.RequestId).String(n.FileId).String(n.Reason).ToArray();
            case SubscribeRefused r:
                return new ByteWriter(64).I64(r.Epoch).String(r.Reason).ToArray();
            default:
                throw new ArgumentException($"{GetType().Name} cannot serialize {obj.GetType()}");
        }
    }

    /// <summary>
    /// What <see cref="ByteWriter"/> would write (epoch, after, up to, count, payload as a block), straight into an array
    /// of the exact size: the payload, up to a frame of records, is copied once rather than twice.
    /// </summary>
    private static byte[] RecordFrameBytes(RecordFrame frame)
    {
        const int header = 8 + 8 + 8 + 4 + 4;
        var bytes = new byte[header + frame.Payload.Length];
        var span = bytes.AsSpan();
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(span, frame.Epoch);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(span[8..], frame.AfterSequence);
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(span[16..], frame.UpToSequence);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(span[24..], frame.RecordCount);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(span[28..], frame.Payload.Length);
        frame.Payload.CopyTo(span[header..]);
        return bytes;
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        var reader = new ByteReader(bytes, $"replication message '{manifest}'");
        object message = manifest switch
        {
            SubscribeManifest => new Subscribe(reader.String("follower"), reader.I64("epoch"), reader.I64("from"), reader.I64("window"),
                system.Provider.ResolveActorRef(reader.String("receiver")), reader.I64("copyStart"), NullIfEmpty(reader.Block("copyAfterKey", MaxKeyBytes)),
                reader.I32("maxChunk"), reader.I32("maxFramePayload"), (ulong)reader.I64("ownWritesAfter"), (ulong)reader.I64("ownWritesBefore")),
            CopyFrameManifest => new CopyFrame(reader.I64("epoch"), reader.I64("copyStart"), reader.Block("startAfterKey", MaxKeyBytes).ToArray(),
                reader.I64("afterPosition"), reader.I32("count"), reader.Block("payload", MaxBlockBytes).ToArray(), reader.Bool("done")),
            CopyProgressManifest => new CursorStore.CopyProgress(reader.I64("copyStart"), reader.Block("afterKey", MaxKeyBytes).ToArray()),
            FrameManifest => new RecordFrame(reader.I64("epoch"), reader.I64("after"), reader.I64("upTo"), reader.I32("count"), reader.Block("payload", MaxBlockBytes).ToArray()),
            ChunkManifest => new BlobChunk(reader.I64("epoch"), reader.I64("position"), reader.String("fileId"), reader.I64("offset"), reader.Block("bytes", MaxBlockBytes).ToArray()),
            CreditManifest => new Credit(reader.I64("epoch"), reader.I64("handled")),
            ReceiptManifest => new Receipt(reader.I64("epoch"), reader.I64("durable")),
            WhoAreYouManifest => new WhoAreYou(reader.I64("sentAt")),
            IdentityManifest => new NodeIdentity(reader.String("nodeId"), reader.I64("echoSentAt"), reader.I64("wallClock"), reader.I64("lastSequence"),
                new RecordLimits(reader.I32("maxDataBytes"), reader.I32("maxBlobFields"), reader.I64("maxBlobBytes"), reader.I32("maxFrameBytes")),
                reader.String("incarnation")),
            CursorAdvancedManifest => new CursorStore.CursorAdvanced(reader.I64("sequence")),
            CursorSnapshotManifest => ReadSnapshot(ref reader),
            PeerIncarnationManifest => new CursorStore.PeerIncarnationSeen(reader.String("incarnation"), reader.Bool("reset")),
            FetchBlobManifest => new FetchBlob(reader.I64("requestId"), reader.String("table"), reader.String("id"), reader.String("fileId"), reader.I64("size"),
                reader.Block("sha256", 64).ToArray(), reader.I64("offset")),
            BlobPieceManifest => new BlobPiece(reader.I64("requestId"), reader.String("fileId"), reader.I64("offset"), reader.Block("bytes", MaxBlockBytes).ToArray(), reader.Bool("last")),
            BlobNotHeldManifest => new BlobNotHeld(reader.I64("requestId"), reader.String("fileId"), reader.String("reason")),
            SubscribeRefusedManifest => new SubscribeRefused(reader.I64("epoch"), reader.String("reason")),
            _ => throw new FormatException($"unknown replication message manifest '{manifest}'"),
        };
        reader.ExpectEnd();
        return message;
    }
}
