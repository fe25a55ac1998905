using Akka.Actor;
using Akka.Configuration;
using ClusterNode.Persistence.Lmdb;
using LightningDB;

namespace ClusterNode.Persistence.Journal;

/// <summary>
/// What the LMDB journal and snapshot store both hold: their settings (read once), a lease on the shared
/// environment, and their database handles, opened once in the plugin's constructor and released in PostStop.
/// </summary>
internal sealed class LmdbPluginStorage : IDisposable
{
    private readonly LmdbLease _lease;

    private LmdbPluginStorage(LmdbPluginSettings settings, LmdbLease lease, IReadOnlyList<LightningDatabase> databases)
    {
        Settings = settings;
        _lease = lease;
        Databases = databases;
    }

    public LmdbPluginSettings Settings { get; }
    public LightningEnvironment Environment => _lease.Environment;
    public IReadOnlyList<LightningDatabase> Databases { get; }

    /// <param name="section">The plugin's HOCON section, as Akka.Persistence hands it to the constructor.</param>
    /// <param name="context">The plugin actor's context: Akka.Persistence names the actor after its config path,
    /// so errors name the keys the user wrote, and an empty <c>dir</c> falls back under cluster-node.data-dir.</param>
    /// <param name="purpose">For errors: what the databases are for.</param>
    public static LmdbPluginStorage Open(Config section, IActorContext context, string purpose, params string[] databaseNames)
    {
        var settings = LmdbPluginSettings.Create(section, context.Self.Path.Name, context.System.Settings.Config.GetString("cluster-node.data-dir", null));
        var lease = LmdbEnvironments.Acquire(settings.Directory, settings.MapSizeBytes);
        try
        {
            using var transaction = lease.Environment.BeginTransaction();
            var create = new DatabaseConfiguration { Flags = DatabaseOpenFlags.Create };
            var databases = databaseNames.Select(name => transaction.OpenDatabase(name, create)).ToArray();
            LmdbMapFullException.ThrowIfFailed(transaction.Commit(), $"creating the {purpose} databases", settings);
            return new LmdbPluginStorage(settings, lease, databases);
        }
        catch
        {
            // PostStop does not run for an actor whose constructor failed.
            lease.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var database in Databases) database.Dispose();
        _lease.Dispose();
    }
}
