using Akka.Actor;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Actors.Replication;

/// <summary>
/// Protocol of the sender that streams this node's audit log to one follower, from the sequence the follower
/// asked for: records batched into frames, each record's blobs as chunks right after it, never more than the
/// follower's window of bytes in flight.
/// </summary>
public static class AuditLogSender
{
    public static Props Props(Subscribe subscription, RecordStore store, ReplicationSettings settings) =>
        Akka.Actor.Props.Create(() => new AuditLogSenderActor(subscription, store, settings)).WithDispatcher(settings.IoDispatcher);

    public interface ICommand;

    /// <summary>The local audit log grew.</summary>
    public sealed record AuditAppended(long LastSequence) : ICommand;

    public sealed record GetStatus : ICommand
    {
        public static readonly GetStatus Instance = new();
    }

    /// <param name="ReceiptSequence">The follower's last receipt: everything up to it is durable there.</param>
    /// <param name="MaxInFlightBytes">The most bytes ever sent and not yet credited: never above the window.</param>
    public sealed record FollowerStatus(string Follower, long Epoch, long NextSequence, long ReceiptSequence, long InFlightBytes, long MaxInFlightBytes, long WindowBytes);
}
