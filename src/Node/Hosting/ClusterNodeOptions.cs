using Akka.Configuration;

namespace ClusterNode.Node.Hosting;

/// <summary>
/// What <see cref="ClusterNodeServiceCollectionExtensions.AddClusterNode"/> starts a node from: HOCON (a file, a
/// <see cref="Config"/>, or both, the Config winning) as <c>cluster-node run --config</c> reads it, and a few typed
/// settings over it for what an embedding application most often sets itself.
/// </summary>
public sealed class ClusterNodeOptions
{
    /// <summary>A HOCON file, as <c>cluster-node run --config</c> takes it.</summary>
    public string? ConfigFile { get; set; }

    /// <summary>HOCON over <see cref="ConfigFile"/>.</summary>
    public Config? Config { get; set; }

    /// <summary><c>cluster-node.data-dir</c>: the node's LMDB environment and blob files.</summary>
    public string? DataDirectory { get; set; }

    /// <summary><c>akka.remote.dot-netty.tcp.hostname</c>: the address other members reach this one at.</summary>
    public string? Hostname { get; set; }

    /// <summary><c>akka.remote.dot-netty.tcp.port</c>.</summary>
    public int? Port { get; set; }

    /// <summary><c>akka.cluster.seed-nodes</c>, e.g. <c>akka.tcp://cluster-node@10.0.0.1:4053</c>; empty: as configured.</summary>
    public IList<string> SeedNodes { get; } = new List<string>();

    /// <summary>
    /// Also serve the node's HTTP API (records, blobs, status, health, metrics: what <c>cluster-node run</c> serves) on
    /// a Kestrel of its own at <c>cluster-node.http.host</c>/<c>port</c>, with the node's tokens and HTTPS settings,
    /// apart from the application's own endpoints. Off: the application reaches the node through
    /// <see cref="ClusterNodeService.Node"/> only.
    /// </summary>
    public bool ServeHttpApi { get; set; }

    /// <summary>The node's configuration: the typed settings over <see cref="Config"/> over <see cref="ConfigFile"/>.</summary>
    public Config ToConfig()
    {
        var config = Config.Empty;
        if (ConfigFile is { } file)
            config = File.Exists(file)
                ? ConfigurationFactory.ParseString(File.ReadAllText(file))
                : throw new ConfigurationException($"config file '{file}' does not exist");
        if (Config is { } hocon) config = hocon.WithFallback(config);
        var typed = new List<string>();
        if (DataDirectory is { } dataDirectory) typed.Add($"cluster-node.data-dir = {Quote(dataDirectory)}");
        if (Hostname is { } hostname) typed.Add($"akka.remote.dot-netty.tcp.hostname = {Quote(hostname)}");
        if (Port is { } port) typed.Add($"akka.remote.dot-netty.tcp.port = {port}");
        if (SeedNodes.Count > 0) typed.Add($"akka.cluster.seed-nodes = [{string.Join(", ", SeedNodes.Select(Quote))}]");
        return typed.Count == 0 ? config : ConfigurationFactory.ParseString(string.Join('\n', typed)).WithFallback(config);
    }

    // A HOCON string: paths and addresses hold ':', '/' and, on Windows, '\'.
    private static string Quote(string value) => $"\"{value.Replace("\\", "\\\\").Replace("\"", "\\\"")}\"";
}
