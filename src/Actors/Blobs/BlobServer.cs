using Akka.Actor;
using ClusterNode.Actors.Replication;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Actors.Blobs;

/// <summary>
/// Protocol of the blob server, the hub's child that answers <see cref="FetchBlob"/> from other nodes' repairs: a
/// piece of a blob this node holds whole and right, or <see cref="BlobNotHeld"/>. It reads files, so it runs on the
/// I/O dispatcher.
/// </summary>
public static class BlobServer
{
    public const string Name = "blob-server";

    public static Props Props(RecordStore store, ReplicationSettings settings) =>
        // Pieces as large as a remote message allows: repair asks for one piece at a time, so fewer round trips.
        Akka.Actor.Props.Create(() => new BlobServerActor(store, settings.MaxFramePayloadBytes)).WithDispatcher(settings.IoDispatcher);
}
