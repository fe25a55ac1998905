using System.Net;
using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Node.Http;

namespace ClusterNode.Node;

/// <summary>
/// A node reachable beyond its own machine must not be open to whoever reaches it: remoting bound beyond loopback
/// needs <c>cluster-node.tls.enabled = on</c> (anyone could join and read or overwrite the data), the HTTP API bound
/// beyond loopback needs tokens. <c>cluster-node.allow-insecure = on</c> starts such a node anyway, with a warning.
/// </summary>
public static class SecureDefaults
{
    public const string AllowInsecureKey = "cluster-node.allow-insecure";

    /// <summary>
    /// Throws a ConfigurationException naming the key of the first exposure, unless allow-insecure is on; then
    /// returns the exposures as warnings. <paramref name="config"/> is the node's own, before any defaults.
    /// </summary>
    public static IReadOnlyList<string> Enforce(Config config, HttpSettings http)
    {
        config = config.WithFallback(NodeHost.ClusterDefaults).WithDefaults();
        var exposures = Exposures(config, http);
        if (exposures.Count == 0 || Flag(config, AllowInsecureKey)) return exposures;
        throw new ConfigurationException($"{exposures[0]}; set up {(exposures[0].StartsWith("akka", StringComparison.Ordinal) ? "TLS" : "tokens")}, " +
            $"bind to 127.0.0.1, or set {AllowInsecureKey} = on");
    }

    private static List<string> Exposures(Config config, HttpSettings http)
    {
        var exposures = new List<string>();
        if (!Flag(config, "cluster-node.tls.enabled"))
            foreach (var key in new[] { "akka.remote.dot-netty.tcp.hostname", "akka.remote.dot-netty.tcp.public-hostname" })
            {
                var host = config.GetString(key, "");
                // An empty public-hostname is the hostname; an empty hostname is every address of the machine.
                if (host.Length == 0 && key.EndsWith("public-hostname", StringComparison.Ordinal)) continue;
                if (!IsLoopback(host))
                    exposures.Add($"{key} = \"{host}\" is not a loopback address and cluster-node.tls.enabled = off: " +
                        "anyone who reaches it can join the cluster and read or overwrite its data");
            }
        if (http.Tokens.Count == 0 && !IsLoopback(http.Host))
            exposures.Add($"cluster-node.http.host = \"{http.Host}\" is not a loopback address and {ApiAuthentication.TokensKey} is empty: " +
                "anyone who reaches it can read, write and delete everything");
        return exposures;
    }

    /// <summary>127.0.0.0/8, ::1 or localhost; anything else (a name, 0.0.0.0, an empty host) may be reached from outside.</summary>
    public static bool IsLoopback(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ||
        (IPAddress.TryParse(host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));

    private static bool Flag(Config config, string key)
    {
        try
        {
            return config.GetBoolean(key, false);
        }
        catch (Exception e)
        {
            throw new ConfigurationException($"{key} must be on or off ({e.Message})");
        }
    }
}
