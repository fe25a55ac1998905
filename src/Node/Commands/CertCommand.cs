using System.Security.Cryptography;
using ClusterNode.Actors.Security;

namespace ClusterNode.Node.Commands;

/// <summary>
/// <c>cluster-node cert create-ca --out DIR</c> and <c>cluster-node cert create-node --ca DIR --name NAME [--host H]...
/// --out DIR</c>: the cluster's private CA and its members' certificates without openssl (as <c>cockroach cert</c>
/// does). Keys are written 0600 and never overwritten.
/// </summary>
public static class CertCommand
{
    public const string UsageLine =
        "usage: cluster-node cert create-ca --out DIR | cluster-node cert create-node --ca DIR --name NAME [--host H]... --out DIR";

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        if (args.Length == 0 || args[0] is not ("create-ca" or "create-node"))
            return Bad(error, (args.Length == 0 ? "create-ca or create-node is needed" : $"unknown cert command '{args[0]}'") + $" ({UsageLine})");
        if (!TryParse(args[1..], out var options, out var problem)) return Bad(error, problem);
        if (!options.TryGetValue("--out", out var outs) || outs.Count != 1) return Bad(error, "--out DIR is needed, once");
        var outDirectory = outs[0];
        try
        {
            if (args[0] == "create-ca")
            {
                if (options.Keys.Any(k => k != "--out")) return Bad(error, $"create-ca takes only --out, not {options.Keys.First(k => k != "--out")}");
                using var ca = ClusterCertificates.CreateCa();
                ClusterCertificates.WriteCa(ca, outDirectory);
                output.WriteLine($"CA '{ca.Subject}' (valid until {ca.NotAfter:yyyy-MM-dd}) written to {Path.GetFullPath(outDirectory)}: " +
                                 $"{ClusterCertificates.CaCertificateFile}, {ClusterCertificates.CaKeyFile} (keep the key off the nodes)");
                return 0;
            }
            if (!options.TryGetValue("--ca", out var cas) || cas.Count != 1) return Bad(error, "--ca DIR is needed, once (the directory of create-ca)");
            if (!options.TryGetValue("--name", out var names) || names.Count != 1) return Bad(error, "--name NAME is needed, once");
            if (names[0].Length == 0 || names[0].Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
                return Bad(error, $"--name '{names[0]}' must be letters, digits, '-', '_' or '.'");
            var hosts = options.GetValueOrDefault("--host") ?? [];
            if (hosts.FirstOrDefault(h => Uri.CheckHostName(h) == UriHostNameType.Unknown) is { } badHost)
                return Bad(error, $"--host '{badHost}' is not a host name or IP address");
            if (options.Keys.FirstOrDefault(k => k is not ("--out" or "--ca" or "--name" or "--host")) is { } other)
                return Bad(error, $"create-node does not take {other}");
            using var authority = ClusterCertificates.ReadCa(cas[0]);
            using var node = ClusterCertificates.CreateNode(authority, names[0], hosts);
            ClusterCertificates.WriteNode(node, authority, outDirectory);
            output.WriteLine($"node certificate '{node.Subject}' for {string.Join(", ", hosts.Concat(ClusterCertificates.DefaultHosts).Distinct())} " +
                             $"(valid until {node.NotAfter:yyyy-MM-dd}) written to {Path.GetFullPath(outDirectory)}: " +
                             $"{ClusterCertificates.NodeCertificateFile}, {ClusterCertificates.NodeKeyFile}, {ClusterCertificates.NodePkcs12File}, {ClusterCertificates.CaCertificateFile}");
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or CryptographicException)
        {
            // A missing CA, a key that is there already or a directory that cannot be written: the user's to fix.
            return Bad(error, e.Message);
        }
    }

    /// <summary>Options as "--name value" pairs; a repeated option keeps every value (--host).</summary>
    private static bool TryParse(string[] args, out Dictionary<string, List<string>> options, out string problem)
    {
        options = new Dictionary<string, List<string>>();
        for (var i = 0; i < args.Length; i += 2)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                problem = $"'{args[i]}' is not an option with a value";
                return false;
            }
            if (args[i + 1].Length == 0)
            {
                problem = $"{args[i]} needs a non-empty value";
                return false;
            }
            if (!options.TryGetValue(args[i], out var values)) options[args[i]] = values = [];
            values.Add(args[i + 1]);
        }
        problem = "";
        return true;
    }

    private static int Bad(TextWriter error, string problem)
    {
        error.WriteLine($"cluster-node cert: {problem}");
        return CommandLine.Usage;
    }
}
