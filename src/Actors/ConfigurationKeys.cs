using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace ClusterNode.Actors;

/// <summary>
/// Catches a misspelt or unknown key under <c>cluster-node</c> (<c>tls.enabled</c> written <c>tls.enable</c> would
/// otherwise leave TLS off without a word). The known keys are those of the embedded defaults
/// (<see cref="ClusterNodeConfig.Defaults"/>): reference.conf is the one list.
/// </summary>
public static class ConfigurationKeys
{
    public const string Section = "cluster-node";

    /// <summary>
    /// Sections whose children are another library's schema, not ours: Akka reads a dispatcher's section with keys
    /// reference.conf does not list (executor, fork-join-executor, thread-priority, ...). Anything under them passes.
    /// </summary>
    private static readonly string[] OpenSections = [$"{Section}.io-dispatcher", $"{Section}.persistence-dispatcher"];

    private static readonly Lazy<HashSet<string>> Known = new(() => LeafPaths(ClusterNodeConfig.Defaults).ToHashSet(StringComparer.Ordinal));

    /// <summary>
    /// Throws a <see cref="ConfigurationException"/> naming the first key under <c>cluster-node</c> in
    /// <paramref name="config"/> (the user's layers, without the defaults) that the defaults do not have, and the
    /// nearest known key.
    /// </summary>
    public static void CheckKnown(Config config)
    {
        foreach (var path in LeafPaths(config))
        {
            if (IsKnown(path)) continue;
            throw new ConfigurationException(Nearest(path) is { } suggestion
                ? $"unknown key {path} (did you mean {suggestion}?)"
                : $"unknown key {path}");
        }
    }

    private static bool IsKnown(string path) =>
        Known.Value.Contains(path) || OpenSections.Any(open => path.StartsWith(open + ".", StringComparison.Ordinal));

    /// <summary>The known key nearest to <paramref name="path"/> by edit distance over the full path, if any is near.</summary>
    public static string? Nearest(string path)
    {
        var (best, distance) = (default(string), int.MaxValue);
        foreach (var known in Known.Value.Order(StringComparer.Ordinal))
        {
            var d = Levenshtein(path, known);
            if (d < distance) (best, distance) = (known, d);
        }
        // A suggestion more than a third different is noise, not help ("cluster-node.foo" is not "cluster-node.tls.ca").
        var tail = path.Length - Section.Length - 1;
        return distance <= Math.Max(2, tail / 3) ? best : null;
    }

    /// <summary>Every leaf under <c>cluster-node</c> (a value, or an array as a whole) in the config and its fallbacks.</summary>
    public static IEnumerable<string> LeafPaths(Config config)
    {
        var paths = new SortedSet<string>(StringComparer.Ordinal);
        for (var layer = config; layer is not null; layer = layer.Fallback)
            if (layer.Root is { } root && root.IsObject() && root.GetObject().Items.TryGetValue(Section, out var section))
                Collect(Section, section, paths);
        return paths;
    }

    private static void Collect(string path, HoconValue value, ISet<string> paths)
    {
        if (!value.IsObject())
        {
            paths.Add(path);
            return;
        }
        foreach (var (key, child) in value.GetObject().Items) Collect($"{path}.{key}", child, paths);
    }

    private static int Levenshtein(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
