using Akka.Actor;
using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Actors.Replication;
using ClusterNode.Persistence.Blobs;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Bench;

/// <summary>
/// One cluster-node node in this process, started the way tests/ClusterNode.Tests/Replication/ReplicationNode.cs
/// does: an ActorSystem with Akka.Remote on a loopback port chosen by the OS, a RecordStore on its own data
/// directory, and the replication hub. Akka's log is off so that only the table is printed; problems show in
/// the receiver's status (LastProblem, Resubscriptions), which the bench prints.
/// </summary>
public sealed class BenchNode : IAsyncDisposable
{
    private BenchNode(ActorSystem system, RecordStore store, IActorRef hub)
    {
        System = system;
        Store = store;
        Hub = hub;
    }

    public ActorSystem System { get; }
    public RecordStore Store { get; }
    public IActorRef Hub { get; }
    public Address Address => ((ExtendedActorSystem)System).Provider.DefaultAddress;

    public static BenchNode Start(string dataDirectory)
    {
        var dir = dataDirectory.Replace("\\", "/");
        var config = ConfigurationFactory.ParseString($$"""
            cluster-node.data-dir = "{{dir}}"
            akka {
              loglevel = OFF
              stdout-loglevel = OFF
              loggers = []
              actor.provider = remote
              remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
              persistence.journal.lmdb.dir = "{{dir}}/akka"
              persistence.snapshot-store.lmdb.dir = "{{dir}}/akka"
            }
            """).WithDefaults();
        var settings = ReplicationSettings.Create(config);
        var system = ActorSystem.Create("cluster-node", config);
        var store = RecordStore.Open(settings.Store);
        var hub = system.ActorOf(ReplicationHub.Props(store, settings), ReplicationHub.Name);
        return new BenchNode(system, store, hub);
    }

    /// <summary>A local write of one record holding one blob, as the HTTP API does it: blob file first (fsync, rename, directory fsync), then the record.</summary>
    public long WriteRecordWithBlob(string table, string id, string field, byte[] blob)
    {
        using var writer = Store.Blobs.BeginWrite();
        writer.Append(blob);
        var blobRef = writer.Commit(field, BlobStore.NewFileId());
        Store.Blobs.SyncDirectory();
        return Store.PutBlob(table, id, blobRef).Sequence;
    }

    public Task<ReplicationHub.NodeStatus> StatusAsync() =>
        Hub.Ask<ReplicationHub.NodeStatus>(ReplicationHub.GetStatus.Instance, TimeSpan.FromSeconds(10));

    public async ValueTask DisposeAsync()
    {
        await System.Terminate();
        Store.Dispose();
    }
}
