using Xunit.Abstractions;

namespace ClusterNode.Tests.Replication;

/// <summary>The nodes a test runs, each in its own directory under one temp root; all stopped and removed at the end.</summary>
public sealed class NodeSet(string purpose, ITestOutputHelper output) : IAsyncDisposable
{
    private readonly string _root = TestData.TempDirectory(purpose);
    private readonly List<ReplicationNode> _running = new();

    /// <summary>Starts the node <paramref name="name"/>; starting a name again after <see cref="Stop"/> is a restart.</summary>
    public ReplicationNode Start(string name, string hocon = "", Func<long>? wallClockMs = null)
    {
        var node = ReplicationNode.Start(name, Path.Combine(_root, name), output, hocon, wallClockMs);
        _running.Add(node);
        return node;
    }

    public async Task Stop(ReplicationNode node)
    {
        _running.Remove(node);
        await node.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _running.ToList()) await node.DisposeAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
