using Akka.Actor;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Actors.Replication;

/// <summary>
/// Protocol of the receiver of one peer's transactions: it subscribes to the peer's sender from the durable
/// watermark, commits the records of each frame in one transaction, hands blob chunks to its blob saver, and
/// returns credit as each frame or chunk is handled. It owns the peer's blob saver and watermark actor.
/// </summary>
public static class Receiver
{
    public static Props Props(string peerNodeId, Address peerAddress, RecordStore store, ReplicationSettings settings, string? journalPluginId = null, string? snapshotPluginId = null) =>
        Akka.Actor.Props.Create(() => new ReceiverActor(peerNodeId, peerAddress, store, settings, journalPluginId, snapshotPluginId))
            .WithDispatcher(settings.IoDispatcher);

    public interface ICommand;

    /// <summary>
    /// The peer answered its hub's periodic check: it is reachable, its log goes up to <paramref name="LastSequence"/>,
    /// and its store is incarnation <paramref name="IncarnationId"/> (another one than before: it was restored).
    /// <paramref name="LogWentBack"/>: its last sequence is below this node's persisted cursor for it, so it was restored
    /// from an older copy of its data-dir.
    /// </summary>
    public sealed record PeerSeen(long LastSequence, string IncarnationId = "", bool LogWentBack = false) : ICommand;

    /// <summary>The peer is now reachable at another address (it restarted elsewhere): re-subscribe there.</summary>
    public sealed record PeerMoved(Address Address) : ICommand;

    public sealed record GetStatus : ICommand
    {
        public static readonly GetStatus Instance = new();
    }

    /// <summary>The peer's stream as this follower sees it.</summary>
    /// <param name="MaxUncreditedBytes">The most bytes ever received and not yet credited back: never above the window.</param>
    /// <param name="RecordsReceived">Records that arrived in frames since this receiver started, applied or not.</param>
    /// <param name="CopyPersistedAfter">During a copy: the record ("table/id") up to which the copy is durable and persisted.</param>
    public sealed record PeerStatus(
        string Peer,
        Address Address,
        string Mode,
        long Epoch,
        long Committed,
        long Durable,
        long PersistedCursor,
        int OutstandingBlobs,
        int FailedBlobs,
        long BlobGap,
        long PeerLastSequence,
        long MaxUncreditedBytes,
        long RecordsReceived,
        long Resubscriptions,
        string? LastProblem,
        string? CopyPersistedAfter = null);
}
