using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Node;
using ClusterNode.Node.Http;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Node;

/// <summary>One real node (cluster member, LMDB, Kestrel on loopback) with a read, a write and an admin token, shared by the cases.</summary>
public sealed class TokenNode : IAsyncLifetime
{
    public const string ReadToken = "read-token-for-the-spec";
    public const string WriteToken = "write-token-for-the-spec";
    public const string AdminToken = "admin-token-for-the-spec";

    private readonly string _root = TestData.TempDirectory("auth");

    public NodeHost Host { get; private set; } = null!;
    public HttpServer Http { get; private set; } = null!;

    public static string Sha256(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    public async Task InitializeAsync()
    {
        var config = ConfigurationFactory.ParseString($$"""
            cluster-node.data-dir = "{{_root.Replace("\\", "/")}}"
            cluster-node.http { host = "127.0.0.1", port = 0 }
            cluster-node.http.tokens = [
              { sha256 = "{{Sha256(ReadToken)}}", role = read },
              { sha256 = "{{Sha256(WriteToken)}}", role = write },
              { sha256 = "{{Sha256(AdminToken).ToUpperInvariant()}}", role = admin }
            ]
            akka.loglevel = WARNING
            akka.remote.dot-netty.tcp.port = {{Loopback.FreePort()}}
            """);
        Host = NodeHost.Start(config);
        Http = await HttpServer.StartAsync(() => Host.Runtime, HttpSettings.Create(config.WithDefaults()));
    }

    public async Task DisposeAsync()
    {
        await Http.DisposeAsync();
        await Host.DisposeAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// Bearer tokens on the HTTP API: no token or a wrong one gets 401 with <c>WWW-Authenticate: Bearer</c>, a token without
/// the role 403, both as the API's JSON error, and a refused write changes nothing; /health is open.
/// </summary>
public sealed class ApiAuthenticationSpec(TokenNode node, ITestOutputHelper output) : IClassFixture<TokenNode>, IDisposable
{
    private readonly HttpClient _client = new() { Timeout = TimeSpan.FromSeconds(30) };

    [Theory]
    [InlineData("PUT", "/tables/people/records/bob", "none", 401)]
    [InlineData("PUT", "/tables/people/records/bob", "wrong", 401)]
    [InlineData("PUT", "/tables/people/records/bob", "sha256-of-write", 401)] // the configured hash is not itself a token
    [InlineData("PUT", "/tables/people/records/bob", "read", 403)]
    [InlineData("PUT", "/tables/people/records/bob/blobs/photo", "none", 401)]
    [InlineData("PUT", "/tables/people/records/bob/blobs/photo", "read", 403)]
    [InlineData("DELETE", "/tables/people/records/bob", "wrong", 401)]
    [InlineData("DELETE", "/tables/people/records/bob", "read", 403)]
    [InlineData("POST", "/members/down", "none", 401)]
    [InlineData("POST", "/members/down", "read", 403)]
    [InlineData("POST", "/members/down", "write", 403)]
    public async Task A_write_without_a_valid_token_or_the_role_must_be_refused_with_json_and_change_nothing(string method, string path, string token, int expected)
    {
        await Put("/tables/people/records/bob", """{"kept":true}""");
        var before = await State();

        HttpContent body = path.Contains("/blobs/") ? new ByteArrayContent(TestData.Blob(3, 10_000))
            : path == "/members/down" ? Json("""{"address":"akka.tcp://cluster-node@127.0.0.1:1"}""")
            : Json("""{"changed":true}""");
        var response = await Send(method, path, token, body);

        Assert.Equal(expected, (int)response.StatusCode);
        var error = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString();
        output.WriteLine($"{method} {path} with {token}: {(int)response.StatusCode} {response.Headers.WwwAuthenticate} {error}");
        Assert.False(string.IsNullOrWhiteSpace(error));
        if (expected == 401) Assert.Equal("Bearer", Assert.Single(response.Headers.WwwAuthenticate).Scheme);
        else Assert.Empty(response.Headers.WwwAuthenticate);
        Assert.Equal(before, await State());
    }

    [Theory]
    [InlineData("GET", "/tables/people/records/carol", "read", 200)]
    [InlineData("GET", "/tables/people/digest", "read", 200)]
    [InlineData("GET", "/status", "read", 200)]
    [InlineData("GET", "/members", "read", 200)]
    [InlineData("GET", "/tables/people/records/carol", "none", 401)]
    [InlineData("GET", "/tables/people/records/carol", "wrong", 401)]
    [InlineData("GET", "/status", "none", 401)]
    [InlineData("GET", "/no/such/route", "none", 401)] // an outsider does not learn which routes exist
    [InlineData("GET", "/no/such/route", "read", 404)]
    [InlineData("PUT", "/tables/people/records/carol", "write", 200)]
    [InlineData("PUT", "/tables/people/records/carol", "admin", 200)]
    [InlineData("DELETE", "/tables/people/records/gone", "write", 404)] // past authentication: no such record
    [InlineData("POST", "/members/down", "admin", 404)] // past authentication: not a member
    [InlineData("GET", "/health", "none", 200)]
    [InlineData("GET", "/health", "wrong", 200)]
    [InlineData("GET", "/health/live", "none", 200)] // /health/* is open too
    [InlineData("GET", "/health/ready", "wrong", 200)]
    public async Task Each_role_must_reach_what_it_may_and_health_needs_no_token(string method, string path, string token, int expected)
    {
        await Put("/tables/people/records/carol", """{"name":"Carol"}""");

        HttpContent? body = method == "GET" ? null
            : path == "/members/down" ? Json("""{"address":"akka.tcp://cluster-node@127.0.0.1:1"}""")
            : Json("""{"name":"Carol"}""");
        var response = path is "/health" or "/health/ready"
            ? await Eventually(() => Send(method, path, token, body)) // 200 once the node is an Up member
            : await Send(method, path, token, body);

        output.WriteLine($"{method} {path} with {token}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal(expected, (int)response.StatusCode);
        if (path.StartsWith("/tables/people/records/carol") && expected == 200)
            Assert.Equal("Carol", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("name").GetString());
    }

    [Fact]
    public async Task Status_must_send_its_token_and_say_what_to_do_without_one()
    {
        var url = node.Http.Url.ToString();
        var (output1, error1) = (new StringWriter(), new StringWriter());
        Assert.Equal(0, await NodeCommand.InvokeAsync(["status", "--url", url, "--token", TokenNode.ReadToken], output1, error1));
        Assert.Contains($"node {node.Host.Store.NodeId}", output1.ToString());

        var (output2, error2) = (new StringWriter(), new StringWriter());
        Assert.Equal(1, await NodeCommand.InvokeAsync(["status", "--token", "not-a-token", "--url", url], output2, error2));
        output.WriteLine(error2.ToString());
        Assert.Contains("401", error2.ToString());
        Assert.Contains("--token", error2.ToString());

        var (output3, error3) = (new StringWriter(), new StringWriter());
        Assert.Equal(2, await NodeCommand.InvokeAsync(["status", "--url", url, "--token"], output3, error3));
        Assert.Contains("'--token'", error3.ToString());
    }

    [Fact]
    public async Task Down_with_a_write_token_must_be_refused_as_forbidden_not_as_bad_usage()
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var exit = await NodeCommand.InvokeAsync(["down", "akka.tcp://cluster-node@127.0.0.1:1", "--url", node.Http.Url.ToString(), "--token", TokenNode.WriteToken], stdout, stderr);
        output.WriteLine(stderr.ToString());
        Assert.Equal(1, exit);
        Assert.Contains("403", stderr.ToString());
        Assert.Contains("admin", stderr.ToString());
    }

    /// <summary>What a refused write must not change: the table's digest and the store's last sequence.</summary>
    private async Task<(string Digest, long LastSequence)> State()
    {
        var digest = await (await Send("GET", "/tables/people/digest", "admin", null)).Content.ReadAsStringAsync();
        return (digest, node.Host.Store.LastSequence);
    }

    private async Task Put(string path, string json) =>
        Assert.Equal(HttpStatusCode.OK, (await Send("PUT", path, "write", Json(json))).StatusCode);

    private Task<HttpResponseMessage> Send(string method, string path, string token, HttpContent? body)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), new Uri(node.Http.Url, path)) { Content = body };
        var presented = token switch
        {
            "none" => null,
            "read" => TokenNode.ReadToken,
            "write" => TokenNode.WriteToken,
            "admin" => TokenNode.AdminToken,
            "sha256-of-write" => TokenNode.Sha256(TokenNode.WriteToken),
            _ => "not-a-token-of-this-node",
        };
        if (presented is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", presented);
        return _client.SendAsync(request);
    }

    private static async Task<HttpResponseMessage> Eventually(Func<Task<HttpResponseMessage>> send)
    {
        HttpResponseMessage? last = null;
        await Loopback.Eventually(async () =>
        {
            last = await send();
            Assert.Equal(HttpStatusCode.OK, last.StatusCode);
        });
        return last!;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    public void Dispose() => _client.Dispose();
}
