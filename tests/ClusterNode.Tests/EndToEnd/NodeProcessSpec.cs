using ClusterNode.Tests.Replication;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.EndToEnd;

/// <summary>
/// What a spec of real node processes holds: a temp directory for their data, the nodes it started (stopped at the
/// end, the directory deleted) and an HTTP client.
/// </summary>
public abstract class NodeProcessSpec : IAsyncLifetime
{
    protected NodeProcessSpec(string directoryName, ITestOutputHelper output, TimeSpan clientTimeout)
    {
        Output = output;
        Root = TestData.TempDirectory(directoryName);
        Client = new HttpClient { Timeout = clientTimeout };
    }

    protected ITestOutputHelper Output { get; }

    protected string Root { get; }

    protected HttpClient Client { get; }

    protected List<NodeProcess> Nodes { get; } = new();

    protected NodeProcess Start(string name, string hocon, int akkaPort, int seedPort, int? httpPort = null, params string[] settings)
    {
        var node = NodeProcess.Start(name, hocon, Path.Combine(Root, name), akkaPort, seedPort, Output, httpPort, settings);
        Nodes.Add(node);
        return node;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var node in Nodes) await node.DisposeAsync();
        Client.Dispose();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
