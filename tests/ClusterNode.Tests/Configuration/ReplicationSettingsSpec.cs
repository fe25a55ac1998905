using ClusterNode.Actors.FaultInjection;
using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Actors.Replication;
using Xunit;

namespace ClusterNode.Tests.Configuration;

public sealed class ReplicationSettingsSpec
{
    [Fact]
    public void Defaults_must_be_the_documented_ones()
    {
        var settings = ReplicationSettings.Create(ConfigurationFactory.Empty);
        Assert.Equal("data/node1", settings.DataDirectory);
        Assert.Equal("", settings.NodeId);
        Assert.Equal(8L << 30, settings.MapSizeBytes);
        Assert.Equal(10_000_000, settings.AuditRetentionEntries);
        Assert.Equal(512 * 1024, settings.RecordMaxBytes);
        Assert.Equal(64, settings.MaxBlobFields);
        Assert.Equal(new Persistence.Records.RecordLimits(512 * 1024, 64, 1L << 30, (1 << 20) - ReplicationSettings.EnvelopeAllowanceBytes), settings.Limits);
        Assert.Equal(settings.Limits, settings.Store.Limits);
        Assert.Equal(8L << 20, settings.WindowBytes);
        Assert.Equal(256 * 1024, settings.FrameTargetBytes);
        Assert.Equal(64 * 1024, settings.ChunkSizeBytes);
        Assert.Equal(1L << 30, settings.BlobMaxSizeBytes);
        Assert.Equal(1 << 20, settings.MaxRemoteFrameBytes);
        Assert.Equal(TimeSpan.FromSeconds(1), settings.HeartbeatInterval);
        Assert.Equal(TimeSpan.FromSeconds(15), settings.IdleTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(500), settings.ResubscribeBackoff);
        Assert.Equal(TimeSpan.FromMilliseconds(200), settings.AwaitedBlobPoll);
        Assert.Equal(100, settings.CursorSnapshotEvery);
        Assert.Equal(BlobSaveFaults.None, settings.Faults);
        Assert.Equal(BlobDurability.Syncfs, settings.BlobDurability);
        Assert.Equal("cluster-node.io-dispatcher", settings.IoDispatcher);
    }

    [Fact]
    public void Embedded_defaults_must_hold_the_spec_keys_and_the_lmdb_persistence_plugins()
    {
        var config = ConfigurationFactory.Empty.WithDefaults();
        Assert.Equal("127.0.0.1", config.GetString("cluster-node.http.host"));
        Assert.Equal(8080, config.GetInt("cluster-node.http.port"));
        Assert.Equal("akka.persistence.journal.lmdb", config.GetString("akka.persistence.journal.plugin"));
        Assert.Equal("akka.persistence.snapshot-store.lmdb", config.GetString("akka.persistence.snapshot-store.plugin"));
        Assert.Equal(0, config.GetInt("cluster-node.fault-injection.blob-save.skip"));
        Assert.Equal(0, config.GetInt("cluster-node.fault-injection.blob-save.fail-count"));
    }

    [Theory]
    [InlineData("cluster-node.replication.window = lots", "cluster-node.replication.window")]
    [InlineData("cluster-node.replication.window = 100 KiB", "cluster-node.replication.window")]
    [InlineData("cluster-node.blob.chunk-size = 4 MiB", "cluster-node.blob.chunk-size")]
    [InlineData("cluster-node.fault-injection.blob-save.fail-count = -1", "cluster-node.fault-injection.blob-save.fail-count")]
    [InlineData("cluster-node.replication.heartbeat-interval = soon", "cluster-node.replication.heartbeat-interval")]
    [InlineData("cluster-node.node-id = \"a/b\"", "cluster-node.node-id")]
    [InlineData("cluster-node.data-dir = \"\"", "cluster-node.data-dir")]
    [InlineData("cluster-node.blob.durability = sometimes", "cluster-node.blob.durability")]
    [InlineData("cluster-node.record.max-blob-fields = many", "cluster-node.record.max-blob-fields")]
    [InlineData("cluster-node.record.max-blob-fields = -1", "cluster-node.record.max-blob-fields")]
    [InlineData("cluster-node.record.max-blob-fields = 70000", "cluster-node.record.max-blob-fields")]
    // The record: thousands of fields with long names do not fit one frame.
    [InlineData("cluster-node.record.max-blob-fields = 5300", "cluster-node.record.max-blob-fields")]
    [InlineData("cluster-node.record.max-size = 20 MiB\nakka.remote.dot-netty.tcp.maximum-frame-size = 64 MiB", "cluster-node.record.max-size")]
    public void A_bad_value_must_fail_with_an_error_naming_the_key(string hocon, string key)
    {
        var error = Assert.Throws<ConfigurationException>(() => ReplicationSettings.Create(ConfigurationFactory.ParseString(hocon)));
        Assert.Contains(key, error.Message);
    }
}
