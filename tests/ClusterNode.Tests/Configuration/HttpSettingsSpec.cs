using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Node;
using ClusterNode.Node.Http;
using Xunit;

namespace ClusterNode.Tests.Configuration;

/// <summary>
/// <c>cluster-node.http</c> tokens and https, and the secure defaults: bad values stop start-up with a
/// ConfigurationException naming the key; a node exposed beyond loopback without TLS or tokens is refused.
/// </summary>
public sealed class HttpSettingsSpec
{
    private const string Hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    [Fact]
    public void Defaults_must_be_the_documented_ones()
    {
        var config = ConfigurationFactory.Empty.WithDefaults();
        var settings = HttpSettings.Create(config);
        Assert.Equal(("127.0.0.1", 8080), (settings.Host, settings.Port));
        Assert.Empty(settings.Tokens);
        Assert.Null(settings.Certificate);
        Assert.False(config.GetBoolean("cluster-node.http.https"));
        Assert.False(config.GetBoolean("cluster-node.allow-insecure"));
        Assert.False(config.GetBoolean("cluster-node.tls.enabled"));
        Assert.Equal("", config.GetString("cluster-node.tls.ca"));
        Assert.Equal("", config.GetString("cluster-node.tls.certificate"));
        Assert.Equal("", config.GetString("cluster-node.tls.certificate-password"));
        Assert.Empty(SecureDefaults.Enforce(ConfigurationFactory.Empty, settings));
    }

    [Fact]
    public void Tokens_must_be_read_as_hashes_with_their_roles()
    {
        var settings = Create($$"""cluster-node.http.tokens = [{ sha256 = "{{Hash}}", role = read }, { sha256 = "{{Hash.Replace('9', '8')}}", role = "admin" }]""");
        Assert.Equal([ApiRole.Read, ApiRole.Admin], settings.Tokens.Select(t => t.Role));
        Assert.Equal(Convert.FromHexString(Hash), settings.Tokens[0].Sha256);
    }

    [Theory]
    [InlineData("""cluster-node.http.tokens = [{ sha256 = "abc", role = read }]""", "cluster-node.http.tokens[0].sha256")]
    [InlineData("""cluster-node.http.tokens = [{ sha256 = "HASH", role = read }, { sha256 = "zz86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", role = read }]""", "cluster-node.http.tokens[1].sha256")]
    [InlineData("""cluster-node.http.tokens = [{ sha256 = "HASH", role = root }]""", "cluster-node.http.tokens[0].role")]
    [InlineData("""cluster-node.http.tokens = [{ sha256 = "HASH" }]""", "cluster-node.http.tokens[0].role")]
    [InlineData("""cluster-node.http.tokens = [{ sha256 = "HASH", role = read }, { sha256 = "HASH", role = admin }]""", "cluster-node.http.tokens[1].sha256")]
    [InlineData("""cluster-node.http.tokens = ["HASH"]""", "cluster-node.http.tokens[0]")]
    [InlineData("""cluster-node.http.tokens = "HASH" """, "cluster-node.http.tokens")]
    [InlineData("cluster-node.http.https = maybe", "cluster-node.http.https")]
    [InlineData("cluster-node.http.https = on", "cluster-node.tls.certificate")]
    [InlineData("""cluster-node.http.https = on, cluster-node.tls.certificate = "/no/such/node.crt" """, "cluster-node.tls.certificate")]
    public void Bad_values_must_stop_start_up_naming_the_key(string hocon, string key)
    {
        var error = Assert.Throws<ConfigurationException>(() => Create(hocon.Replace("HASH", Hash)));
        Assert.Contains(key, error.Message);
    }

    [Theory]
    [InlineData("", null)]
    [InlineData("""cluster-node.http.host = "localhost" """, null)]
    [InlineData("""cluster-node.http.host = "127.0.0.2" """, null)]
    [InlineData("""cluster-node.http.host = "::1" """, null)]
    [InlineData("""cluster-node.http.host = "0.0.0.0" """, "cluster-node.http.host")]
    [InlineData("""cluster-node.http.host = "10.1.2.3" """, "cluster-node.http.host")]
    [InlineData("""cluster-node.http.host = "node1.example.com" """, "cluster-node.http.host")]
    [InlineData("""cluster-node.http.host = "0.0.0.0", cluster-node.http.tokens = [{ sha256 = "HASH", role = read }]""", null)]
    [InlineData("""akka.remote.dot-netty.tcp.hostname = "0.0.0.0" """, "akka.remote.dot-netty.tcp.hostname")]
    [InlineData("""akka.remote.dot-netty.tcp.hostname = "" """, "akka.remote.dot-netty.tcp.hostname")]
    [InlineData("""akka.remote.dot-netty.tcp.public-hostname = "node1.example.com" """, "akka.remote.dot-netty.tcp.public-hostname")]
    [InlineData("""akka.remote.dot-netty.tcp.public-hostname = "127.0.0.1" """, null)]
    [InlineData("""akka.remote.dot-netty.tcp.hostname = "10.1.2.3", cluster-node.tls.enabled = on""", null)]
    [InlineData("""akka.remote.dot-netty.tcp.hostname = "10.1.2.3", cluster-node.allow-insecure = on""", null)]
    [InlineData("""cluster-node.http.host = "0.0.0.0", cluster-node.allow-insecure = on""", null)]
    [InlineData("""cluster-node.http.host = "0.0.0.0", cluster-node.allow-insecure = perhaps""", "cluster-node.allow-insecure")]
    public void A_node_exposed_beyond_loopback_without_tls_or_tokens_must_be_refused_unless_allowed(string hocon, string? key)
    {
        var config = ConfigurationFactory.ParseString(hocon.Replace("HASH", Hash));
        var http = HttpSettings.Create(config.WithDefaults());
        if (key is null)
        {
            SecureDefaults.Enforce(config, http);
            return;
        }
        var error = Assert.Throws<ConfigurationException>(() => SecureDefaults.Enforce(config, http));
        Assert.StartsWith(key, error.Message);
        Assert.DoesNotContain('\n', error.Message);
        if (key != "cluster-node.allow-insecure") Assert.Contains("cluster-node.allow-insecure = on", error.Message);
    }

    [Fact]
    public void Allowed_exposures_must_still_be_reported_as_warnings()
    {
        var config = ConfigurationFactory.ParseString("""cluster-node.http.host = "0.0.0.0", cluster-node.allow-insecure = on""");
        var warning = Assert.Single(SecureDefaults.Enforce(config, HttpSettings.Create(config.WithDefaults())));
        Assert.StartsWith("cluster-node.http.host", warning);
    }

    private static HttpSettings Create(string hocon) => HttpSettings.Create(ConfigurationFactory.ParseString(hocon).WithDefaults());
}
