using Akka.Configuration;
using ClusterNode.Persistence;

namespace ClusterNode.Actors;

/// <summary>The embedded defaults (reference.conf) of cluster-node, to put under any user configuration.</summary>
public static class ClusterNodeConfig
{
    private static readonly Lazy<Config> Embedded = new(() =>
    {
        using var stream = typeof(ClusterNodeConfig).Assembly.GetManifestResourceStream("ClusterNode.Actors.reference.conf")
            ?? throw new InvalidOperationException("reference.conf is not embedded in ClusterNode.Actors");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    });

    /// <summary>cluster-node's defaults with the LMDB persistence plugins' defaults under them.</summary>
    public static Config Defaults => Embedded.Value.WithFallback(LmdbPersistence.DefaultConfig());

    /// <summary><paramref name="config"/> over the embedded defaults.</summary>
    public static Config WithDefaults(this Config config) => config.WithFallback(Defaults);
}
