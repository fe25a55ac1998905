using ClusterNode.Persistence.Records;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Replication;

/// <summary>
/// Every node writes, overwrites and deletes overlapping records with blobs at the same time, while blob saves
/// fail and nodes restart at random. They must end with the same records and versions, and every blob file
/// must hash to what its record says, checked on B with A stopped. Each run prints its seed;
/// CLUSTER_TEST_SEED=&lt;seed&gt; replays it.
/// </summary>
public sealed class RandomizedReplicationSpec : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private readonly ITestOutputHelper _output;
    private readonly NodeSet _nodes;

    public RandomizedReplicationSpec(ITestOutputHelper output) : base(output: output)
    {
        _output = output;
        _nodes = new NodeSet("randomized", output);
    }

    [Fact]
    public Task Two_writers_must_converge_through_failed_blob_saves_and_restarts() =>
        Run(TestSeed.Next(), nodeCount: 2, rounds: 3, writesPerRound: 40, ids: 25, maxBlobBytes: 150 * 1024);

    [Fact]
    public Task Three_writers_must_converge_through_failed_blob_saves_forwarding_and_restarts() =>
        Run(TestSeed.Next(), nodeCount: 3, rounds: 3, writesPerRound: 40, ids: 25, maxBlobBytes: 150 * 1024);

    [SoakFact]
    public Task Soak_two_writers_must_converge_through_failed_blob_saves_and_restarts() =>
        Run(TestSeed.Next(), nodeCount: 2, rounds: 40, writesPerRound: 150, ids: 200, maxBlobBytes: 2 * 1024 * 1024);

    [SoakFact]
    public Task Soak_three_writers_must_converge_through_failed_blob_saves_forwarding_and_restarts() =>
        Run(TestSeed.Next(), nodeCount: 3, rounds: 30, writesPerRound: 150, ids: 200, maxBlobBytes: 2 * 1024 * 1024);

    private async Task Run(int seed, int nodeCount, int rounds, int writesPerRound, int ids, int maxBlobBytes)
    {
        _output.WriteLine($"seed {seed} (replay with CLUSTER_TEST_SEED={seed})");
        var random = new Random(seed);
        string Faults() => $"cluster-node.fault-injection.blob-save {{ skip = {random.Next(0, 20)}, fail-count = {random.Next(0, 3)} }}\n" +
                           $"cluster-node.blob.durability = {(random.Next(2) == 0 ? "syncfs" : "fsync")}\n" +
                           "cluster-node.replication.window = 512 KiB";
        static string NameOf(int index) => ((char)('a' + index)).ToString();
        var nodes = Enumerable.Range(0, nodeCount).Select(i => Start(NameOf(i), Faults())).ToArray();
        foreach (var node in nodes)
        {
            _output.WriteLine($"{node.Name} = {node.Store.NodeId} at {node.Address}");
            foreach (var peer in nodes.Where(p => p != node)) node.ConnectTo(peer);
        }
        nodes[0].ConnectTo(nodes[1]);
        nodes[1].ConnectTo(nodes[0]);

        for (var round = 0; round < rounds; round++)
        {
            for (var write = 0; write < writesPerRound; write++)
            {
                var node = nodes[random.Next(nodeCount)];
                var id = $"r{random.Next(ids)}";
                try
                {
                    switch (random.Next(10))
                    {
                        case < 5:
                            node.WriteRecordWithBlob("t", id, $$"""{"round":{{round}},"write":{{write}}}""", $"f{random.Next(2)}",
                                TestData.Blob(random.Next(), random.Next(0, maxBlobBytes)));
                            break;
                        case < 8:
                            node.Store.PutData("t", id, global::System.Text.Encoding.UTF8.GetBytes($$"""{"round":{{round}},"write":{{write}}}"""));
                            break;
                        default:
                            node.Store.Delete("t", id);
                            break;
                    }
                }
                catch (BlobBytesPendingException refused)
                {
                    // A write must not issue a version whose blob bytes have not arrived; a client retries it.
                    _output.WriteLine($"round {round}, write {write} on {node.Name}: {refused.Message}");
                }
            }
            if (random.Next(2) == 0)
            {
                var which = random.Next(nodeCount);
                _output.WriteLine($"round {round}: restarting {nodes[which].Name}");
                await Stop(nodes[which]);
                nodes[which] = Start(NameOf(which), Faults());
                _output.WriteLine($"round {round}: {nodes[which].Name} now at {nodes[which].Address}");
                foreach (var other in nodes.Where(n => n != nodes[which]))
                {
                    nodes[which].ConnectTo(other);
                    other.ConnectTo(nodes[which]); // it came back on another port
                }
            }
        }

        var (a, b) = (nodes[0], nodes[^1]);
        try
        {
            await AwaitAssertAsync(() =>
            {
                foreach (var node in nodes.Skip(1)) Assert.Equal(Digest(a.Store), Digest(node.Store));
                return Task.CompletedTask;
            }, TimeSpan.FromSeconds(120), TimeSpan.FromMilliseconds(250));
        }
        catch
        {
            await PrintStatus(seed, nodes, "not converged");
            foreach (var node in nodes.Skip(1))
            {
                foreach (var line in Digest(a.Store).Except(Digest(node.Store))) _output.WriteLine($"only on {a.Name} (not {node.Name}): {line}");
                foreach (var line in Digest(node.Store).Except(Digest(a.Store))) _output.WriteLine($"only on {node.Name} (not {a.Name}): {line}");
            }
            throw;
        }
        try
        {
            await AwaitAssertAsync(async () =>
            {
                foreach (var follower in nodes)
                    foreach (var peer in nodes.Where(p => p != follower))
                        Assert.True(peer.Store.LastSequence == (await follower.PeerStatusAsync(peer))!.PersistedCursor,
                            $"{follower.Name}'s cursor for {peer.Name} is not at {peer.Name}'s last sequence {peer.Store.LastSequence}");
            }, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(250));
        }
        catch
        {
            await PrintStatus(seed, nodes, "cursors not at the end");
            throw;
        }

        // Every other node goes away; the last one alone must hold every byte.
        var expected = Digest(a.Store);
        foreach (var node in nodes.Where(n => n != b)) await Stop(node);
        Assert.Equal(expected, Digest(b.Store));
        foreach (var record in AllRecords(b.Store))
            foreach (var blob in record.Blobs)
                Assert.True(b.Store.Blobs.Verify(blob), $"seed {seed}: {b.Name}'s blob {record.Table}/{record.Id}/{blob.Field} is missing or wrong");
        _output.WriteLine($"converged on {expected.Count} records");
    }

    private async Task PrintStatus(int seed, IEnumerable<ReplicationNode> nodes, string problem)
    {
        foreach (var node in nodes)
        {
            var status = await node.StatusAsync();
            _output.WriteLine($"seed {seed}: {problem}. {node.Name} at {node.Address}: last sequence {status.LastSequence}");
            foreach (var peer in status.Peers) _output.WriteLine($"  receiving {peer}");
            foreach (var follower in status.Followers) _output.WriteLine($"  sending {follower}");
        }
    }

    private static List<StoredRecord> AllRecords(RecordStore store)
    {
        var all = new List<StoredRecord>();
        byte[]? after = null;
        while (true)
        {
            var page = store.Scan(after, 1000);
            if (page.Count == 0) return all;
            all.AddRange(page);
            after = RecordCodec.Key(page[^1].Table, page[^1].Id);
        }
    }

    private static List<string> Digest(RecordStore store) =>
        AllRecords(store).Select(r =>
            $"{r.Table}/{r.Id} {r.Version} {(r.Deleted ? "deleted" : global::System.Text.Encoding.UTF8.GetString(r.Data))} " +
            string.Join(",", r.Blobs.Select(b => $"{b.Field}={b.Sha256Hex}"))).ToList();

    private ReplicationNode Start(string name, string hocon = "") => _nodes.Start(name, hocon);

    private Task Stop(ReplicationNode node) => _nodes.Stop(node);

    public Task InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync() => await _nodes.DisposeAsync();
}
