using Akka.Configuration;

namespace ClusterNode.Persistence.Journal;

/// <summary>
/// What the LMDB journal and snapshot store read from their HOCON section (<c>akka.persistence.journal.lmdb</c>,
/// <c>akka.persistence.snapshot-store.lmdb</c>), read once when the plugin starts; a bad value throws a
/// <see cref="ConfigurationException"/> naming the key. Both plugins have the same keys, so they share this record.
/// </summary>
/// <param name="SectionPath">The plugin's HOCON path, used to name keys in errors.</param>
/// <param name="Directory">The LMDB environment directory; journal and snapshot store may share it.</param>
/// <param name="MapSizeBytes">The LMDB map size: the most the environment can ever hold.</param>
public sealed record LmdbPluginSettings(string SectionPath, string Directory, long MapSizeBytes)
{
    public const string JournalPath = "akka.persistence.journal.lmdb";
    public const string SnapshotStorePath = "akka.persistence.snapshot-store.lmdb";

    /// <summary>Below this LMDB cannot hold much more than its own meta pages.</summary>
    public const long MinMapSizeBytes = 1L << 20;

    /// <summary>16 TiB: far beyond any disk we plan for, small enough to catch a unit typo (a size in bits, say).</summary>
    public const long MaxMapSizeBytes = 1L << 44;

    /// <param name="section">The plugin's own section, as Akka.Persistence hands it to the plugin's constructor.</param>
    /// <param name="sectionPath">Where that section lives, for error messages.</param>
    /// <param name="nodeDataDirectory">cluster-node.data-dir: an empty <c>dir</c> means its "akka" subdirectory.</param>
    public static LmdbPluginSettings Create(Config section, string sectionPath, string? nodeDataDirectory = null)
    {
        if (section.IsNullOrEmpty()) throw new ConfigurationException($"missing HOCON section '{sectionPath}'");

        string? directory;
        try { directory = section.GetString("dir", null); }
        catch (Exception e) { throw new ConfigurationException($"{sectionPath}.dir: not a string ({e.Message})", e); }
        if (string.IsNullOrWhiteSpace(directory))
        {
            if (string.IsNullOrWhiteSpace(nodeDataDirectory))
                throw new ConfigurationException($"{sectionPath}.dir must be set to a directory (or cluster-node.data-dir, under which it defaults to akka/)");
            directory = Path.Combine(nodeDataDirectory, "akka");
        }

        long? mapSizeBytes;
        try { mapSizeBytes = section.GetByteSize("map-size"); }
        catch (Exception e) { throw new ConfigurationException($"{sectionPath}.map-size: not a size such as 1 GiB ({e.Message})", e); }
        if (mapSizeBytes is null) throw new ConfigurationException($"{sectionPath}.map-size must be set");
        if (mapSizeBytes < MinMapSizeBytes || mapSizeBytes > MaxMapSizeBytes)
            throw new ConfigurationException(
                $"{sectionPath}.map-size: {mapSizeBytes} bytes is outside {MinMapSizeBytes}..{MaxMapSizeBytes}");

        return new LmdbPluginSettings(sectionPath, directory, mapSizeBytes.Value);
    }
}
