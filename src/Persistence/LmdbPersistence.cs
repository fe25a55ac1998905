using Akka.Configuration;

namespace ClusterNode.Persistence;

/// <summary>
/// The defaults of the LMDB journal and snapshot store: this assembly's embedded reference.conf. Used as a fallback,
/// <c>myConfig.WithFallback(LmdbPersistence.DefaultConfig())</c>, it also makes them Akka.Persistence's default plugins.
/// </summary>
public static class LmdbPersistence
{
    private const string ResourceName = "ClusterNode.Persistence.reference.conf";

    // Parsed once: a Config is immutable, and every ActorSystem of a test run asks for it.
    private static readonly Lazy<Config> Defaults = new(Load);

    public static Config DefaultConfig() => Defaults.Value;

    private static Config Load()
    {
        using var stream = typeof(LmdbPersistence).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"embedded resource '{ResourceName}' is missing from {typeof(LmdbPersistence).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream);
        return ConfigurationFactory.ParseString(reader.ReadToEnd());
    }
}
