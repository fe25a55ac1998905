using ClusterNode.Persistence.Records;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Replication;

/// <summary>
/// Both nodes write, overwrite and delete overlapping records with blobs at the same time, while blob saves
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
        Run(TestSeed.Next(), rounds: 3, writesPerRound: 40, ids: 25, maxBlobBytes: 150 * 1024);

    [SoakFact]
    public Task Soak_two_writers_must_converge_through_failed_blob_saves_and_restarts() =>
        Run(TestSeed.Next(), rounds: 40, writesPerRound: 150, ids: 200, maxBlobBytes: 2 * 1024 * 1024);

    private async Task Run(int seed, int rounds, int writesPerRound, int ids, int maxBlobBytes)
    {
        _output.WriteLine($"seed {seed} (replay with CLUSTER_TEST_SEED={seed})");
        var random = new Random(seed);
        string Faults() => $"cluster-node.fault-injection.blob-save {{ skip = {random.Next(0, 20)}, fail-count = {random.Next(0, 3)} }}\n" +
                           "cluster-node.replication.window = 512 KiB";
        var nodes = new[] { Start("a", Faults()), Start("b", Faults()) };
        _output.WriteLine($"a = {nodes[0].Store.NodeId} at {nodes[0].Address}, b = {nodes[1].Store.NodeId} at {nodes[1].Address}");
        nodes[0].ConnectTo(nodes[1]);
        nodes[1].ConnectTo(nodes[0]);

        for (var round = 0; round < rounds; round++)
        {
            for (var write = 0; write < writesPerRound; write++)
            {
                var node = nodes[random.Next(2)];
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
                var which = random.Next(2);
                _output.WriteLine($"round {round}: restarting {nodes[which].Name}");
                await Stop(nodes[which]);
                nodes[which] = Start(which == 0 ? "a" : "b", Faults());
                _output.WriteLine($"round {round}: {nodes[which].Name} now at {nodes[which].Address}");
                nodes[which].ConnectTo(nodes[1 - which]);
                nodes[1 - which].ConnectTo(nodes[which]); // it came back on another port
            }
        }

        var (a, b) = (nodes[0], nodes[1]);
        try
        {
            await AwaitAssertAsync(() =>
            {
                Assert.Equal(Digest(a.Store), Digest(b.Store));
                return Task.CompletedTask;
            }, TimeSpan.FromSeconds(120), TimeSpan.FromMilliseconds(250));
        }
        catch
        {
            foreach (var node in nodes)
            {
                var status = await node.StatusAsync();
                _output.WriteLine($"seed {seed}: not converged. {node.Name} at {node.Address}: last sequence {status.LastSequence}");
                foreach (var peer in status.Peers) _output.WriteLine($"  receiving {peer}");
                foreach (var follower in status.Followers) _output.WriteLine($"  sending {follower}");
            }
            foreach (var line in Digest(a.Store).Except(Digest(b.Store))) _output.WriteLine($"only on A: {line}");
            foreach (var line in Digest(b.Store).Except(Digest(a.Store))) _output.WriteLine($"only on B: {line}");
            throw;
        }
        await AwaitAssertAsync(async () =>
        {
            Assert.Equal(a.Store.LastSequence, (await b.PeerStatusAsync(a))!.PersistedCursor);
            Assert.Equal(b.Store.LastSequence, (await a.PeerStatusAsync(b))!.PersistedCursor);
        }, TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(250));

        var expected = Digest(a.Store);
        await Stop(a);
        Assert.Equal(expected, Digest(b.Store));
        foreach (var record in AllRecords(b.Store))
            foreach (var blob in record.Blobs)
                Assert.True(b.Store.Blobs.Verify(blob), $"seed {seed}: B's blob {record.Table}/{record.Id}/{blob.Field} is missing or wrong");
        _output.WriteLine($"converged on {expected.Count} records");
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
