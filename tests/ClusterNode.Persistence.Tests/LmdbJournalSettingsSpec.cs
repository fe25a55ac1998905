using Akka.Configuration;
using ClusterNode.Persistence.Journal;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Persistence.Tests;

/// <summary>Every default of the embedded reference.conf, and the errors a bad plugin section gets.</summary>
public sealed class LmdbJournalSettingsSpec(ITestOutputHelper output)
    : Akka.TestKit.Xunit2.TestKit(LmdbPersistence.DefaultConfig(), nameof(LmdbJournalSettingsSpec), output)
{
    private static readonly Config Defaults = LmdbPersistence.DefaultConfig();

    [Fact]
    public void Default_config_makes_lmdb_the_default_journal_and_snapshot_store()
    {
        Assert.Equal(LmdbPluginSettings.JournalPath, Defaults.GetString("akka.persistence.journal.plugin"));
        Assert.Equal(LmdbPluginSettings.SnapshotStorePath, Defaults.GetString("akka.persistence.snapshot-store.plugin"));
    }

    [Theory]
    [InlineData(LmdbPluginSettings.JournalPath, "ClusterNode.Persistence.Journal.LmdbJournal, ClusterNode.Persistence")]
    [InlineData(LmdbPluginSettings.SnapshotStorePath, "ClusterNode.Persistence.Snapshot.LmdbSnapshotStore, ClusterNode.Persistence")]
    public void Default_config_sets_every_plugin_key(string sectionPath, string pluginClass)
    {
        var section = Defaults.GetConfig(sectionPath);
        Assert.Equal(pluginClass, section.GetString("class"));
        Assert.NotNull(Type.GetType(pluginClass));
        Assert.Equal("cluster-node.persistence-dispatcher", section.GetString("plugin-dispatcher"));

        var settings = LmdbPluginSettings.Create(section, sectionPath, nodeDataDirectory: "data/node1");
        Assert.Equal(new LmdbPluginSettings(sectionPath, Path.Combine("data/node1", "akka"), 1L << 30), settings);
    }

    [Fact]
    public void Default_config_defines_a_dedicated_dispatcher_for_the_plugins()
    {
        var dispatcher = Defaults.GetConfig("cluster-node.persistence-dispatcher");
        Assert.Equal("ForkJoinDispatcher", dispatcher.GetString("type"));
        Assert.Equal(2, dispatcher.GetInt("dedicated-thread-pool.thread-count"));
        Assert.Equal("cluster-node.persistence-dispatcher", Sys.Dispatchers.Lookup("cluster-node.persistence-dispatcher").Id);
    }

    [Theory]
    [InlineData("dir = \"\"", "akka.persistence.journal.lmdb.dir")]
    [InlineData("map-size = lots", "akka.persistence.journal.lmdb.map-size")]
    [InlineData("map-size = 64 KiB", "akka.persistence.journal.lmdb.map-size")]
    [InlineData("map-size = 100 TiB", "akka.persistence.journal.lmdb.map-size")]
    public void Settings_reject_a_bad_value_naming_its_key(string hocon, string key)
    {
        var section = ConfigurationFactory.ParseString(hocon).WithFallback(Defaults.GetConfig(LmdbPluginSettings.JournalPath));
        // As the plugins do, pass the node's data-dir, except where the case is about the directory itself.
        var nodeDataDirectory = key.EndsWith(".dir") ? null : "data/node1";
        var error = Assert.Throws<ConfigurationException>(() => LmdbPluginSettings.Create(section, LmdbPluginSettings.JournalPath, nodeDataDirectory));
        Assert.Contains(key, error.Message);
    }

    [Fact]
    public void Settings_reject_a_missing_section()
    {
        var error = Assert.Throws<ConfigurationException>(() => LmdbPluginSettings.Create(Config.Empty, "akka.persistence.journal.other"));
        Assert.Contains("akka.persistence.journal.other", error.Message);
    }
}
