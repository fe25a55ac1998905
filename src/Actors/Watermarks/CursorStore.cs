using Akka.Actor;
using ClusterNode.Actors.Serialization;

namespace ClusterNode.Actors.Watermarks;

/// <summary>
/// Protocol of the cursor store: the persistent actor that keeps the resume cursor of one peer on the
/// journal. It only ever moves forward, and only to what the watermark says is durable.
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

    /// <summary>Told to the parent when recovery ends: the cursor to start from.</summary>
    public sealed record Recovered(long Sequence);

    /// <summary>Told to the parent when the cursor is on the journal.</summary>
    public sealed record Persisted(long Sequence);

    /// <summary>The journal event.</summary>
    public sealed record CursorAdvanced(long Sequence) : IReplicationPersistedMessage;

    /// <summary>The snapshot; the events it covers are then deleted.</summary>
    public sealed record CursorSnapshot(long Sequence) : IReplicationPersistedMessage;
}
