using System.Net;
using System.Security.Cryptography;
using System.Text;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.EndToEnd;

/// <summary>
/// Real node processes and the secure defaults: a node bound beyond loopback without TLS or tokens refuses to start
/// (exit 2, one line naming the key, nothing created) unless allow-insecure says so; a node with tokens serves the
/// client commands that present one (--token or CLUSTER_NODE_TOKEN) and refuses those that do not.
/// </summary>
public sealed class SecureDefaultsSpec(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Token = "e2e-read-token";
    private readonly string _root = TestData.TempDirectory("secure");
    private readonly List<NodeProcess> _nodes = new();
    private readonly HttpClient _client = new() { Timeout = TimeSpan.FromSeconds(30) };

    private static readonly Dictionary<string, string?> NoTokenVariable = new() { ["CLUSTER_NODE_TOKEN"] = null };

    [Theory]
    [InlineData("cluster-node.http.host = \"0.0.0.0\"", "cluster-node.http.host")]
    [InlineData("akka.remote.dot-netty.tcp.hostname = \"0.0.0.0\"", "akka.remote.dot-netty.tcp.hostname")]
    [InlineData("cluster-node.http.tokens = [{ sha256 = \"not-hex\", role = read }]", "cluster-node.http.tokens[0].sha256")]
    [InlineData("cluster-node.http.tokens = [{ sha256 = \"HASH\", role = root }]", "cluster-node.http.tokens[0].role")]
    public async Task An_exposed_or_badly_secured_node_must_refuse_to_start_naming_the_key(string setting, string key)
    {
        var dataDir = Path.Combine(_root, "refused").Replace("\\", "/");
        var result = await NodeCli.RunAsync(NoTokenVariable, TimeSpan.FromMinutes(1), "run",
            "--set", $"cluster-node.data-dir = \"{dataDir}\"",
            "--set", $"cluster-node.http.port = {Loopback.FreePort()}",
            "--set", $"akka.remote.dot-netty.tcp.port = {Loopback.FreePort()}",
            "--set", setting.Replace("HASH", Sha256(Token)));
        output.WriteLine(result.ToString());

        Assert.Equal(2, result.ExitCode);
        var message = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("cluster-node:"));
        Assert.Contains(key, message);
        Assert.False(Directory.Exists(dataDir), "a refused start created its data-dir");
    }

    [Fact]
    public async Task With_allow_insecure_a_node_bound_to_every_address_without_tokens_starts_and_says_so()
    {
        var log = Path.Combine(_root, "insecure.log");
        var node = Start("insecure", log, "cluster-node.http.host = \"0.0.0.0\"", "cluster-node.allow-insecure = on");
        await _client.Healthy(node);
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync(new Uri(node.Url, "tables"))).StatusCode);
        // A warning of the node's log (src/Node/Hosting/NodeLogging.cs): "... warn: cluster-node[0] cluster-node.http.host = ...".
        Assert.Contains(ReadShared(log).Split('\n'), line => line.Contains(" warn: cluster-node[0] cluster-node.http.host = \"0.0.0.0\" is not a loopback address"));
    }

    [Fact]
    public async Task A_node_with_tokens_serves_status_to_a_client_with_its_token_and_refuses_one_without()
    {
        // Bound to every address without allow-insecure: tokens are what make that allowed.
        var node = Start("tokens", null, "cluster-node.http.host = \"0.0.0.0\"",
            $"cluster-node.http.tokens = [{{ sha256 = \"{Sha256(Token)}\", role = read }}]");
        await _client.Healthy(node);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _client.GetAsync(new Uri(node.Url, "status"))).StatusCode);

        var withFlag = await Cli(NoTokenVariable, "status", "--url", node.Url.ToString(), "--token", Token);
        Assert.Equal(0, withFlag.ExitCode);
        Assert.StartsWith("node ", withFlag.Output);

        var fromVariable = await Cli(new Dictionary<string, string?> { ["CLUSTER_NODE_TOKEN"] = Token }, "members", "--url", node.Url.ToString());
        Assert.Equal(0, fromVariable.ExitCode);
        Assert.Contains("(this node)", fromVariable.Output);

        var without = await Cli(NoTokenVariable, "status", "--url", node.Url.ToString());
        Assert.Equal(1, without.ExitCode);
        Assert.Contains("401", without.Error);
        Assert.Contains("--token TOKEN or set CLUSTER_NODE_TOKEN", without.Error);

        var wrong = await Cli(new Dictionary<string, string?> { ["CLUSTER_NODE_TOKEN"] = "not-the-token" }, "status", "--url", node.Url.ToString());
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains("401", wrong.Error);
    }

    [Fact]
    public async Task Token_create_prints_a_token_and_the_entry_that_holds_its_sha256()
    {
        var result = await Cli(NoTokenVariable, "token", "create", "--role", "write");
        Assert.Equal(0, result.ExitCode);
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(2, lines.Length);
        Assert.Equal($"{{ sha256 = \"{Sha256(lines[0])}\", role = write }}", lines[1]);
        Assert.Equal(2, (await Cli(NoTokenVariable, "token", "create", "--role", "root")).ExitCode);
    }

    private NodeProcess Start(string name, string? logFile, params string[] settings)
    {
        var port = Loopback.FreePort();
        var launch = new NodeLaunch(name, "hocon/single.conf", Path.Combine(_root, name), port, Loopback.FreePort(), [port])
        {
            Settings = settings,
            LogFile = logFile,
        };
        var node = NodeProcess.Start(launch, output);
        _nodes.Add(node);
        return node;
    }

    private async Task<NodeCli.Result> Cli(IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var result = await NodeCli.RunAsync(environment, args);
        output.WriteLine($"cluster-node {string.Join(' ', args)} -> {result}");
        return result;
    }

    private static string Sha256(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>A file the node process still has open for writing.</summary>
    private static string ReadShared(string path)
    {
        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
        return reader.ReadToEnd();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes) await node.DisposeAsync();
        _client.Dispose();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
