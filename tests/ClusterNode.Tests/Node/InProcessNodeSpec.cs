using Akka.Configuration;
using ClusterNode.Node;
using ClusterNode.Node.Http;
using ClusterNode.Tests.Replication;
using Xunit;

namespace ClusterNode.Tests.Node;

/// <summary>
/// Specs of nodes hosted in the test process (a real <see cref="NodeHost"/> with LMDB, Akka.Remote on loopback, and
/// Kestrel): a temp root, the nodes started, an HTTP client, and the clean-up, once for every such spec.
/// </summary>
public abstract class InProcessNodeSpec : IAsyncLifetime
{
    private readonly List<(NodeHost Host, HttpServer Http)> _running = new();

    protected InProcessNodeSpec(string purpose, TimeSpan clientTimeout)
    {
        Root = TestData.TempDirectory(purpose);
        Client = new HttpClient { Timeout = clientTimeout };
    }

    protected string Root { get; }
    protected HttpClient Client { get; }

    /// <summary>How many nodes this spec started.</summary>
    protected int Started => _running.Count;

    /// <summary>
    /// A node with its data under <see cref="Root"/>/<paramref name="name"/>, remoting on <paramref name="port"/>,
    /// joining <paramref name="seed"/> (none: a cluster of its own), <paramref name="extra"/> HOCON over the defaults.
    /// </summary>
    protected async Task<(NodeHost Host, HttpServer Http)> StartNode(string name, int port, string? seed, string extra = "", HttpSettings? settings = null)
    {
        var dir = Path.Combine(Root, name).Replace("\\", "/");
        var host = NodeHost.Start(ConfigurationFactory.ParseString($$"""
            {{extra}}
            cluster-node.data-dir = "{{dir}}"
            akka.loglevel = WARNING
            akka.remote.dot-netty.tcp.port = {{port}}
            akka.cluster.seed-nodes = [{{(seed is null ? "" : $"\"{seed}\"")}}]
            """));
        var http = await HttpServer.StartAsync(() => host.Runtime, settings ?? new HttpSettings("127.0.0.1", 0));
        _running.Add((host, http));
        return (host, http);
    }

    protected static Uri Url((NodeHost Host, HttpServer Http) node, string path) => new(node.Http.Url, path);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var (host, http) in _running)
        {
            await http.DisposeAsync();
            await host.DisposeAsync();
        }
        Client.Dispose();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
