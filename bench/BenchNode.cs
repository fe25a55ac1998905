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
    private BenchNode(NodeRuntime runtime) => Runtime = runtime;

    public NodeRuntime Runtime { get; }
    public RecordStore Store => Runtime.Store;
    public IActorRef Hub => Runtime.Hub;
    public Address Address => Runtime.Address;

    /// <param name="extraHocon">Over the bench's own settings, e.g. the scrub's.</param>
    public static BenchNode Start(string dataDirectory, string extraHocon = "") =>
        new(NodeRuntime.Start(ConfigurationFactory.ParseString($$"""
            {{extraHocon}}
            cluster-node.data-dir = "{{dataDirectory.Replace("\\", "/")}}"
            akka {
              loglevel = OFF
              stdout-loglevel = OFF
              loggers = []
              actor.provider = remote
              remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
            }
            """)));

    /// <summary>A local write of one record holding one blob, as the HTTP API does it: blob file first (fsync, rename, directory fsync), then the record.</summary>
    public long WriteRecordWithBlob(string table, string id, string field, byte[] blob) => Runtime.WriteBlob(table, id, field, blob).Sequence;

    public Task<ReplicationHub.NodeStatus> StatusAsync() => Runtime.StatusAsync();

    public Task<ClusterNode.Actors.Blobs.BlobScrub.Status> ScrubStatusAsync() => Runtime.ScrubStatusAsync();

    public ValueTask DisposeAsync() => Runtime.DisposeAsync();
}
