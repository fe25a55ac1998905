using Akka.Actor;
using ClusterNode.Actors.Serialization;

namespace ClusterNode.Actors.Watermarks;

/// <summary>
/// Protocol of the cursor store: the persistent actor that keeps the resume cursor of one peer on the
/// journal, and the progress of a copy from that peer while one runs. The cursor only ever moves forward,
/// and only to what the watermark says is durable.
/// </summary>
public static class CursorStore
{
    public static Props Props(string peerNodeId, int snapshotEvery, string? journalPluginId = null, string? snapshotPluginId = null) =>
        Akka.Actor.Props.Create(() => new CursorStoreActor(PersistenceIdOf(peerNodeId), snapshotEvery, journalPluginId, snapshotPluginId));

    public static string PersistenceIdOf(string peerNodeId) => $"cursor-{peerNodeId}";

    /// <summary>Commands from the watermark actor.</summary>
    public interface ICommand;

    /// <summary>Persist <paramref name="Sequence"/> as the cursor if it is ahead; answered with <see cref="Persisted"/>.</summary>
    public sealed record Advance(long Sequence) : ICommand;

    /// <summary>
    /// Persist the progress of a copy (see SPEC, copy mode): every record up to and including
    /// <paramref name="AfterKey"/> is durable here; answered with <see cref="CopyPersisted"/>.
    /// </summary>
    public sealed record AdvanceCopy(long CopyStart, byte[] AfterKey) : ICommand;

    /// <summary>
    /// Told to the parent when recovery ends: the cursor to start from, and the copy in progress, if any
    /// (<paramref name="CopyStart"/> 0: none).
    /// </summary>
    public sealed record Recovered(long Sequence, long CopyStart = 0, byte[]? CopyAfterKey = null, string PeerIncarnation = "");

    /// <summary>
    /// The peer answered with incarnation <paramref name="IncarnationId"/> (made with its data-dir). The first one seen is
    /// recorded; another one means the peer was restored under its node id from an empty or other data-dir, and its log
    /// starts over: the cursor is reset to 0, as it is when the peer's log went back below the cursor
    /// (<paramref name="LogWentBack"/>: restored from an older copy). Answered with <see cref="IncarnationPersisted"/>.
    /// </summary>
    public sealed record RecordIncarnation(string IncarnationId, bool LogWentBack = false) : ICommand;

    /// <summary><paramref name="Reset"/>: the cursor went back to 0 for a new incarnation of the peer.</summary>
    public sealed record IncarnationPersisted(string IncarnationId, bool Reset);

    public sealed record CopyPersisted(long CopyStart, byte[] AfterKey);

    /// <summary>Told to the parent when the cursor is on the journal.</summary>
    public sealed record Persisted(long Sequence);

    /// <summary>The journal event of the cursor; it also ends any copy in progress.</summary>
    public sealed record CursorAdvanced(long Sequence) : IReplicationPersistedMessage;

    /// <summary>The journal event of a copy's progress.</summary>
    public sealed record CopyProgress(long CopyStart, byte[] AfterKey) : IReplicationPersistedMessage;

    /// <summary>The journal event of a peer incarnation seen; <paramref name="Reset"/>: the cursor (and any copy) went back to 0.</summary>
    public sealed record PeerIncarnationSeen(string IncarnationId, bool Reset) : IReplicationPersistedMessage;

    /// <summary>The snapshot; the events it covers are then deleted.</summary>
    public sealed record CursorSnapshot(long Sequence, long CopyStart = 0, byte[]? CopyAfterKey = null, string PeerIncarnation = "") : IReplicationPersistedMessage;
}
