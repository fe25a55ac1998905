using Akka.Actor;
using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Actors.Replication;
using ClusterNode.Persistence.Records;
using ClusterNode.Tests.Support;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Replication;

/// <summary>
/// One node as the tests run it: a real ActorSystem with Akka.Remote on a loopback port chosen by the OS,
/// a real LMDB environment and blob directory under <see cref="DataDirectory"/>, and the replication hub.
/// Stopping and starting again on the same directory is a node restart.
/// </summary>
public sealed class ReplicationNode : IAsyncDisposable
{
    private ReplicationNode(string name, string dataDirectory, NodeRuntime runtime)
    {
        Name = name;
        DataDirectory = dataDirectory;
        Runtime = runtime;
    }

    public string Name { get; }
    public string DataDirectory { get; }
    public NodeRuntime Runtime { get; }
    public ActorSystem System => Runtime.System;
    public RecordStore Store => Runtime.Store;
    public IActorRef Hub => Runtime.Hub;
    public Address Address => Runtime.Address;

    public static ReplicationNode Start(string name, string dataDirectory, ITestOutputHelper output, string extraHocon = "", Func<long>? wallClockMs = null)
    {
        var config = ConfigurationFactory.ParseString($$"""
            {{extraHocon}}
            cluster-node.data-dir = "{{dataDirectory.Replace("\\", "/")}}"
            akka {
              loglevel = INFO
              stdout-loglevel = WARNING
              loggers = []
              actor.provider = remote
              remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
            }
            """);
        var runtime = NodeRuntime.Start(config, system => TestLogging.AttachTo(system, output), wallClockMs);
        return new ReplicationNode(name, dataDirectory, runtime);
    }

    /// <summary>
    /// This node replicates from <paramref name="peer"/>. Both are told of each other, as cluster membership tells every
    /// member of every other: a hub serves a Subscribe only from a peer it knows, so the peer replicates from this node too.
    /// </summary>
    public void ConnectTo(ReplicationNode peer)
    {
        Runtime.ConnectTo(peer.Address);
        peer.Runtime.ConnectTo(Address);
    }

    public Task<ReplicationHub.NodeStatus> StatusAsync() => Runtime.StatusAsync();

    public async Task<Receiver.PeerStatus?> PeerStatusAsync(ReplicationNode peer) =>
        (await StatusAsync()).Peers.SingleOrDefault(p => p.Peer == peer.Store.NodeId);

    /// <summary>A local write of a record with one blob, the way the HTTP API does it: data, then blob file, then the record.</summary>
    public long WriteRecordWithBlob(string table, string id, string json, string field, byte[] blob)
    {
        Store.PutData(table, id, global::System.Text.Encoding.UTF8.GetBytes(json));
        return Runtime.WriteBlob(table, id, field, blob).Sequence;
    }

    /// <summary>The blob's bytes as this node holds them, or null when it has none.</summary>
    public byte[]? ReadBlob(string table, string id, string field)
    {
        var blob = Store.Get(table, id)?.Blob(field);
        if (blob is null) return null;
        using var file = Store.Blobs.TryOpenRead(blob.FileId);
        if (file is null) return null;
        using var copy = new MemoryStream();
        file.CopyTo(copy);
        return copy.ToArray();
    }

    public ValueTask DisposeAsync() => Runtime.DisposeAsync();
}
