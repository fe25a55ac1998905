using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Tests.EndToEnd;
using Xunit;

namespace ClusterNode.Tests.Configuration;

/// <summary>
/// A misspelt key under cluster-node is an error naming it and the key meant, not a setting silently ignored; every
/// key reference.conf documents, and a deployment's whole configuration, pass.
/// </summary>
public sealed class ConfigurationKeysSpec
{
    [Theory]
    [InlineData("cluster-node.replication.windw = 4 MiB", "cluster-node.replication.windw", "cluster-node.replication.window")]
    [InlineData("cluster-node.tls.enable = on", "cluster-node.tls.enable", "cluster-node.tls.enabled")]
    [InlineData("cluster-node.http { prot = 8081 }", "cluster-node.http.prot", "cluster-node.http.port")]
    [InlineData("cluster-node.scrub.intervall = 1h", "cluster-node.scrub.intervall", "cluster-node.scrub.interval")]
    [InlineData("cluster-node.datadir = \"/tmp/x\"", "cluster-node.datadir", "cluster-node.data-dir")]
    public void A_typo_must_be_refused_naming_the_key_and_the_one_meant(string hocon, string key, string meant)
    {
        var error = Assert.Throws<ConfigurationException>(() => ConfigurationKeys.CheckKnown(ConfigurationFactory.ParseString(hocon)));
        Assert.Equal($"unknown key {key} (did you mean {meant}?)", error.Message);
    }

    [Fact]
    public void A_key_like_no_known_one_must_be_refused_without_a_guess()
    {
        var error = Assert.Throws<ConfigurationException>(() => ConfigurationKeys.CheckKnown(ConfigurationFactory.ParseString("cluster-node.colour = blue")));
        Assert.Equal("unknown key cluster-node.colour", error.Message);
    }

    [Fact]
    public void A_typo_in_a_later_layer_must_be_found_too()
    {
        var layers = ConfigurationFactory.ParseString("cluster-node.repair.timeot = 2s").WithFallback(ConfigurationFactory.ParseString("cluster-node.repair.timeout = 3s"));
        var error = Assert.Throws<ConfigurationException>(() => ConfigurationKeys.CheckKnown(layers));
        Assert.Contains("cluster-node.repair.timeot", error.Message);
    }

    [Fact]
    public void Every_key_of_the_defaults_must_pass() =>
        ConfigurationKeys.CheckKnown(ClusterNodeConfig.Defaults);

    [Fact]
    public void A_deployments_whole_configuration_must_pass()
    {
        var config = ConfigurationFactory.ParseString("""
            cluster-node {
              node-id = "n1"
              data-dir = "/var/lib/cluster-node"
              http { host = "0.0.0.0", port = 8443, https = on, max-batch-bytes = 8 MiB, max-batch-records = 500,
                     max-batch-blob-bytes = 2 GiB, max-batch-blobs = 10,
                     tokens = [{ sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", role = admin }] }
              tls { enabled = on, ca = "/etc/cn/ca.crt", certificate = "/etc/cn/node.pfx", certificate-password = "" }
              allow-insecure = off
              lmdb.map-size = 64 GiB
              audit-log.retention = 1000000
              record { max-size = 1 MiB, max-blob-fields = 16 }
              replication { window = 16 MiB, frame-size = 512 KiB, heartbeat-interval = 2s, idle-timeout = 30s,
                            resubscribe-backoff = 1s, awaited-blob-poll = 100ms, cursor-snapshot-every = 50, peer-check-interval = 5s }
              repair { timeout = 10s, lost-retry-interval = 1m }
              membership { repair-interval = 5s, join-patience = 30s }
              clock.max-offset = 500ms
              blob { chunk-size = 128 KiB, max-size = 4 GiB, durability = fsync }
              scrub { interval = 1h, rate = 32 MiB, orphan-grace = 2h }
              # Akka's dispatcher schema, not ours: keys reference.conf does not list are fine here.
              io-dispatcher { type = ForkJoinDispatcher, throughput = 32, dedicated-thread-pool { thread-count = 8, deadlock-timeout = 3s } }
              persistence-dispatcher.dedicated-thread-pool.threadtype = foreground
            }
            akka.loglevel = INFO
            akka.anything-else = "not ours to check"
            """);
        ConfigurationKeys.CheckKnown(config);
    }

    [Fact]
    public void The_repositorys_hocon_files_must_pass()
    {
        var files = Directory.GetFiles(Path.Combine(NodeProcess.RepositoryRoot, "hocon"), "*.conf", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        foreach (var file in files) ConfigurationKeys.CheckKnown(ConfigurationFactory.ParseString(File.ReadAllText(file)));
    }
}
