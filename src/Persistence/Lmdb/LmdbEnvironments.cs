using System.Collections.Concurrent;
using LightningDB;

namespace ClusterNode.Persistence.Lmdb;

/// <summary>
/// LMDB allows one open environment per directory per process: opening the same directory twice breaks its
/// locking. Every user (record store, journal, snapshot store) leases the environment from here instead; the
/// last lease to be returned closes it.
/// </summary>
public static class LmdbEnvironments
{
    private static readonly ConcurrentDictionary<string, Entry> Open = new();
    private static readonly object Gate = new();

    public static LmdbLease Acquire(string directory, long mapSizeBytes, int maxDatabases = 16)
    {
        var path = Path.GetFullPath(directory);
        lock (Gate)
        {
            if (!Open.TryGetValue(path, out var entry))
            {
                Directory.CreateDirectory(path);
                var environment = new LightningEnvironment(path, new EnvironmentConfiguration
                {
                    MapSize = mapSizeBytes,
                    MaxDatabases = maxDatabases,
                    MaxReaders = 256,
                });
                // NoThreadLocalStorage: read transactions are used from actor and thread-pool threads that change.
                environment.Open(EnvironmentOpenFlags.NoThreadLocalStorage);
                entry = new Entry(environment);
                Open[path] = entry;
            }
            entry.Leases++;
            return new LmdbLease(path, entry.Environment);
        }
    }

    internal static void Release(string path)
    {
        lock (Gate)
        {
            if (!Open.TryGetValue(path, out var entry)) return;
            if (--entry.Leases > 0) return;
            Open.TryRemove(path, out _);
            entry.Environment.Dispose();
        }
    }

    private sealed class Entry(LightningEnvironment environment)
    {
        public LightningEnvironment Environment { get; } = environment;
        public int Leases { get; set; }
    }
}

/// <summary>A handle on a shared environment; dispose it exactly once when done.</summary>
public sealed class LmdbLease(string path, LightningEnvironment environment) : IDisposable
{
    private int _disposed;
    public LightningEnvironment Environment { get; } = environment;
    public string Path { get; } = path;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) LmdbEnvironments.Release(Path);
    }
}
