using System.Text;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using ClusterNode.Node;
using ClusterNode.Node.Hosting;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit;

namespace ClusterNode.Tests.Hosting;

/// <summary>
/// A node embedded in another .NET application with <c>services.AddClusterNode(...)</c> on the generic host: it starts
/// and stops with the host, takes writes, is an Up member, replicates with a node hosted otherwise, and logs (Akka's
/// log too) through the host's logger factory.
/// </summary>
public sealed class EmbeddedNodeSpec : IAsyncLifetime
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);
    private readonly string _root = TestData.TempDirectory("embedded");
    private readonly List<IAsyncDisposable> _running = new();

    [Fact]
    public async Task An_embedded_node_starts_with_the_host_takes_a_write_and_is_an_Up_member()
    {
        var log = new CapturedLog();
        var (host, node) = await StartEmbedded("a", Loopback.FreePort(), seed: null, log);

        node.Store.PutData("people", "alice", Encoding.UTF8.GetBytes("""{"name":"alice"}"""));

        Assert.Equal("""{"name":"alice"}""", Encoding.UTF8.GetString(node.Store.Get("people", "alice")!.Data!));
        await Loopback.Eventually(() =>
        {
            Assert.Equal(MemberStatus.Up, node.Cluster.SelfMember.Status);
            return Task.CompletedTask;
        }, Generous);
        // Akka's own log reaches the host's logger factory, one event per line, under the class that logged it.
        await Loopback.Eventually(() =>
        {
            Assert.Contains(log.Entries, e => e.Category.StartsWith("Akka", StringComparison.Ordinal) && e.Message.Contains("Up", StringComparison.Ordinal));
            return Task.CompletedTask;
        }, Generous);
        Assert.DoesNotContain(log.Entries, e => e.Message.Contains('\n'));

        // The host's stop is the node's graceful leave, and closes the store: the same data directory opens again.
        await host.StopAsync();
        var (_, again) = await StartEmbedded("a", Loopback.FreePort(), seed: null, new CapturedLog());
        Assert.NotNull(again.Store.Get("people", "alice"));
    }

    [Fact]
    public async Task An_embedded_node_and_a_node_started_on_its_own_replicate_each_others_writes()
    {
        var seedPort = Loopback.FreePort();
        var (_, embedded) = await StartEmbedded("embedded", seedPort, seed: null, new CapturedLog());
        var other = NodeHost.Start(ConfigurationFactory.ParseString($$"""
            cluster-node.data-dir = "{{Path.Combine(_root, "other").Replace("\\", "/")}}"
            akka.loglevel = WARNING
            akka.remote.dot-netty.tcp.port = {{Loopback.FreePort()}}
            akka.cluster.seed-nodes = ["akka.tcp://cluster-node@127.0.0.1:{{seedPort}}"]
            """));
        _running.Add(other);

        embedded.Store.PutData("t", "from-embedded", Encoding.UTF8.GetBytes("""{"n":1}"""));
        other.Store.PutData("t", "from-other", Encoding.UTF8.GetBytes("""{"n":2}"""));

        await Loopback.Eventually(() =>
        {
            Assert.NotNull(other.Store.Get("t", "from-embedded"));
            Assert.NotNull(embedded.Store.Get("t", "from-other"));
            Assert.Equal(2, embedded.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up));
            return Task.CompletedTask;
        }, Generous);
    }

    [Fact]
    public async Task An_embedded_node_serves_its_HTTP_API_on_its_own_port_when_asked_and_only_then()
    {
        var (quiet, _) = await StartEmbedded("quiet", Loopback.FreePort(), seed: null, new CapturedLog());
        Assert.Null(quiet.Services.GetRequiredService<ClusterNodeService>().HttpUrl);
        var (host, node) = await StartEmbedded("served", Loopback.FreePort(), seed: null, new CapturedLog(), serveHttpApi: true);
        var url = host.Services.GetRequiredService<ClusterNodeService>().HttpUrl;
        Assert.NotNull(url);

        // The typed client against the embedded node's API: a write through HTTP is in the node's store, and back.
        using var client = new ClusterNode.Client.ClusterNodeClient(url);
        await client.PutRecordAsync("people", "bob", new { name = "Bob" });
        Assert.NotNull(node.Store.Get("people", "bob"));
        Assert.Equal("Bob", (await client.GetRecordAsync("people", "bob")).Data.GetProperty("name").GetString());
        await Loopback.Eventually(async () => Assert.True((await client.GetHealthAsync()).IsReady), Generous);

        await host.StopAsync();
        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetRecordAsync("people", "bob")); // stopped with the host
    }

    [Fact]
    public void An_embedded_node_is_held_to_the_secure_defaults_remoting_beyond_loopback_needs_TLS()
    {
        var builder = Host.CreateApplicationBuilder();
        var dataDirectory = Path.Combine(_root, "exposed");
        var error = Assert.Throws<ConfigurationException>(() => builder.Services.AddClusterNode(node =>
        {
            node.DataDirectory = dataDirectory;
            node.Hostname = "0.0.0.0";
        }));
        Assert.Contains("akka.remote.dot-netty.tcp.hostname", error.Message);
        Assert.False(Directory.Exists(dataDirectory));
    }

    [Fact]
    public void A_missing_config_file_is_refused_when_the_node_is_added_naming_the_file()
    {
        var builder = Host.CreateApplicationBuilder();
        var missing = Path.Combine(_root, "nowhere.conf");
        var error = Assert.Throws<ConfigurationException>(() => builder.Services.AddClusterNode(node => node.ConfigFile = missing));
        Assert.Contains(missing, error.Message);
    }

    [Fact]
    public void A_misspelt_key_is_refused_when_the_node_is_added_naming_the_key_meant_and_nothing_is_written()
    {
        var builder = Host.CreateApplicationBuilder();
        var dataDirectory = Path.Combine(_root, "typo");
        var error = Assert.Throws<ConfigurationException>(() => builder.Services.AddClusterNode(node =>
        {
            node.Config = ConfigurationFactory.ParseString("cluster-node.replication.windw = 4");
            node.DataDirectory = dataDirectory;
        }));
        Assert.Equal("unknown key cluster-node.replication.windw (did you mean cluster-node.replication.window?)", error.Message);
        Assert.False(Directory.Exists(dataDirectory));
    }

    private async Task<(IHost Host, NodeHost Node)> StartEmbedded(string name, int port, string? seed, CapturedLog log, bool serveHttpApi = false)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(log);
        builder.Services.AddClusterNode(node =>
        {
            node.Config = ConfigurationFactory.ParseString("akka.loglevel = INFO");
            node.DataDirectory = Path.Combine(_root, name);
            node.Hostname = "127.0.0.1";
            node.Port = port;
            if (seed is not null) node.SeedNodes.Add(seed);
            if (serveHttpApi) node.Config = ConfigurationFactory.ParseString("cluster-node.http.port = 0").WithFallback(node.Config);
            node.ServeHttpApi = serveHttpApi;
        });
        var host = builder.Build();
        _running.Add(new HostStopper(host));
        await host.StartAsync();
        var service = host.Services.GetRequiredService<ClusterNodeService>();
        Assert.Same(service.Node, await service.Started);
        return (host, service.Node);
    }

    /// <summary>An application host as the clean-up stops it: gracefully (again, if the test stopped it: a no-op), then disposed.</summary>
    private sealed class HostStopper(IHost host) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await host.StopAsync();
            host.Dispose();
        }
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var running in Enumerable.Reverse(_running).ToList()) await running.DisposeAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { /* best effort */ }
    }
}
