using Akka.Actor;
using ClusterNode.Actors.Serialization;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Actors.Replication;

// The messages that cross the network between a follower's receiver and a leader's sender. Each carries the
// epoch (subscription) it belongs to, so nothing of an abandoned subscription can be taken for the current one.

/// <summary>
/// Follower → peer's hub: stream your audit log to <paramref name="Receiver"/> from <paramref name="FromSequence"/>.
/// A follower in the middle of a copy names it: <paramref name="CopyStart"/> (0: none) and the key after which
/// the copy resumes. The follower's own limits (0: unknown) bound what the sender sends it, so two nodes
/// configured differently still agree on chunk and frame sizes. The follower's own writes are not sent back to it,
/// except those with a version strictly between <paramref name="OwnWritesAfterHlc"/> and
/// <paramref name="OwnWritesBeforeHlc"/>: writes it made after the clock its store restored at start and before it
/// started, which only a node restored from an empty or older data-dir can have lost.
/// </summary>
public sealed record Subscribe(
    string FollowerNodeId, long Epoch, long FromSequence, long WindowBytes, IActorRef Receiver,
    long CopyStart = 0, byte[]? CopyAfterKey = null, int MaxChunkBytes = 0, int MaxFramePayloadBytes = 0,
    ulong OwnWritesAfterHlc = 0, ulong OwnWritesBeforeHlc = 0) : IReplicationWireMessage
{
    /// <summary>A write of the follower's own that it may have lost, so it is sent back to it.</summary>
    public bool MayHaveLost(RecordVersion version) =>
        version.Origin == FollowerNodeId && version.Hlc > OwnWritesAfterHlc && version.Hlc < OwnWritesBeforeHlc;
}

/// <summary>
/// Peer's hub → the sender of a <see cref="Subscribe"/> it will not serve (not a member it replicates with yet, or an
/// invalid request), so that a follower the peer has not learnt of yet (a restarted node just being admitted) asks
/// again soon instead of waiting for its stream's silence to be noticed. It says nothing but that and why.
/// </summary>
public sealed record SubscribeRefused(long Epoch, string Reason) : IReplicationWireMessage;

/// <summary>
/// Sender → receiver: <paramref name="RecordCount"/> records encoded by <see cref="RecordFrameCodec"/>, and the
/// news that the sender's log holds nothing else for this follower up to <paramref name="UpToSequence"/>.
/// A frame with no records is a heartbeat or a skip over writes the follower does not receive.
/// <paramref name="AfterSequence"/> is where the previous frame of this epoch ended: Akka.Remote drops messages
/// while an address is gated, so a frame that does not continue exactly where the follower is proves a loss,
/// and is refused rather than letting its <paramref name="UpToSequence"/> move the cursor over the gap.
/// </summary>
public sealed record RecordFrame(long Epoch, long AfterSequence, long UpToSequence, int RecordCount, byte[] Payload) : IReplicationWireMessage
{
    public long CostBytes => FlowControl.Cost(RecordCount, Payload.Length);
}

/// <summary>
/// Sender → receiver in copy mode: records in key order, each at its copy position (its place in this epoch's copy,
/// from 1; encoded by <see cref="RecordFrameCodec"/> in the sequence's place), resuming after
/// <paramref name="StartAfterKey"/>. <paramref name="Done"/>: the last records of the copy; the audit log
/// follows from <paramref name="CopyStart"/> + 1. <paramref name="AfterPosition"/>: the last copy position of the
/// previous copy frame of this epoch, so a lost copy frame is noticed like a lost record frame.
/// </summary>
public sealed record CopyFrame(long Epoch, long CopyStart, byte[] StartAfterKey, long AfterPosition, int RecordCount, byte[] Payload, bool Done) : IReplicationWireMessage
{
    public long CostBytes => FlowControl.Cost(RecordCount, Payload.Length + StartAfterKey.Length);
}

/// <summary>
/// Sender → receiver: bytes of the blob <paramref name="FileId"/> of the record at <paramref name="Position"/> (a log
/// sequence, or a copy position during a copy).
/// </summary>
public sealed record BlobChunk(long Epoch, long Position, string FileId, long Offset, byte[] Bytes) : IReplicationWireMessage
{
    public long CostBytes => Bytes.Length + FlowControl.HeaderAllowanceBytes;
}

/// <summary>Receiver → sender: the total bytes of this epoch handled so far (applied, or handed to the saver).</summary>
public sealed record Credit(long Epoch, long HandledBytes) : IReplicationWireMessage;

/// <summary>Receiver → sender: everything up to <paramref name="DurableSequence"/> is durable here.</summary>
public sealed record Receipt(long Epoch, long DurableSequence) : IReplicationWireMessage;

/// <summary>
/// Asks a node's hub for its stable node id, its clock and its last sequence; answered with <see cref="NodeIdentity"/>.
/// <paramref name="SentAtMs"/> is the asker's wall clock, echoed back so that it can measure the round trip.
/// </summary>
public sealed record WhoAreYou(long SentAtMs) : IReplicationWireMessage;

/// <param name="EchoSentAtMs">The <see cref="WhoAreYou.SentAtMs"/> this answers.</param>
/// <param name="WallClockMs">The answering node's wall clock when it answered.</param>
/// <param name="LastSequence">The answering node's last audit sequence: how far a follower could get.</param>
/// <param name="Limits">What the answering node accepts in one record: every member writes within the smallest.</param>
/// <param name="IncarnationId">The answering node's store incarnation, made with its data-dir: another one under the same
/// node id means the node was restored from an empty or other data-dir.</param>
public sealed record NodeIdentity(string NodeId, long EchoSentAtMs, long WallClockMs, long LastSequence, RecordLimits Limits,
    string IncarnationId = "") : IReplicationWireMessage;

/// <summary>
/// Asks a node's hub for a piece of a blob it should hold: a node repairing a file found missing or wrong, or a
/// follower whose stream's sender lacked the bytes. <paramref name="Table"/>/<paramref name="Id"/> name the record, so
/// a node that should hold the blob and does not can start its own repair. Answered with <see cref="BlobPiece"/> or
/// <see cref="BlobNotHeld"/>; the asker checks the whole blob's sha256 before it keeps a byte of it.
/// </summary>
public sealed record FetchBlob(long RequestId, string Table, string Id, string FileId, long Size, byte[] Sha256, long Offset) : IReplicationWireMessage;

/// <summary>The bytes of the asked blob from <paramref name="Offset"/>; <paramref name="Last"/>: the blob ends with them.</summary>
public sealed record BlobPiece(long RequestId, string FileId, long Offset, byte[] Bytes, bool Last) : IReplicationWireMessage;

/// <summary>The asked node does not hold the blob whole and right (missing, another size, or another hash).</summary>
public sealed record BlobNotHeld(long RequestId, string FileId, string Reason) : IReplicationWireMessage;

public static class FlowControl
{
    /// <summary>What a frame or chunk costs in the window beyond its payload: our header, roughly.</summary>
    public const int HeaderAllowanceBytes = 64;

    /// <summary>
    /// A frame's cost in the window. A frame without records (a heartbeat, or a skip over entries the follower does
    /// not receive) costs nothing: a lost heartbeat changes no position, so nothing would ever notice it, and the
    /// bytes it held in the window would be gone for good (found by the simulation: the window shrank until no frame
    /// fit, while the heartbeats kept the stream looking alive).
    /// </summary>
    public static long Cost(int recordCount, int payloadBytes) => recordCount == 0 ? 0 : payloadBytes + HeaderAllowanceBytes;
}
