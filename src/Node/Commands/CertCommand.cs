using System.CommandLine;
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
    public static Command Command() => new("cert", "the cluster's CA and its nodes' certificates (for cluster-node.tls)") { CreateCa(), CreateNode() };

    private static Option<string> Out(string description) =>
        new Option<string>("--out") { Description = description, HelpName = "DIR", Required = true }.NotEmpty();

    private static Command CreateCa()
    {
        var outDirectory = Out("the directory to write ca.crt and ca.key to (keep the key off the nodes)");
        var command = new Command("create-ca", "a cluster CA: its certificate and key") { outDirectory };
        command.SetAction(parsed => Guarded(parsed, () =>
        {
            var directory = parsed.GetRequiredValue(outDirectory);
            using var ca = ClusterCertificates.CreateCa();
            ClusterCertificates.WriteCa(ca, directory);
            parsed.InvocationConfiguration.Output.WriteLine(
                $"CA '{ca.Subject}' (valid until {ca.NotAfter:yyyy-MM-dd}) written to {Path.GetFullPath(directory)}: " +
                $"{ClusterCertificates.CaCertificateFile}, {ClusterCertificates.CaKeyFile} (keep the key off the nodes)");
        }));
        return command;
    }

    private static Command CreateNode()
    {
        var ca = new Option<string>("--ca") { Description = "the directory of create-ca", HelpName = "DIR", Required = true }.NotEmpty();
        var name = new Option<string>("--name") { Description = "the node's name (letters, digits, '-', '_', '.')", Required = true }.NotEmpty();
        name.Validators.Add(result =>
        {
            // The tokens, not the value: reading a value that did not convert throws (see CommandLine.AtLeast).
            if (result.Tokens.Select(t => t.Value).FirstOrDefault(v => v.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))) is { } value)
                result.AddError($"--name '{value}' must be letters, digits, '-', '_' or '.'");
        });
        var hosts = new Option<string[]>("--host") { Description = "a host name or IP address the certificate is for (repeatable; localhost and 127.0.0.1 always)", HelpName = "H" };
        hosts.Validators.Add(result =>
        {
            if (result.Tokens.Select(t => t.Value).FirstOrDefault(h => Uri.CheckHostName(h) == UriHostNameType.Unknown) is { } bad)
                result.AddError($"--host '{bad}' is not a host name or IP address");
        });
        var outDirectory = Out("the directory to write node.crt, node.key, node.pfx and ca.crt to");
        var command = new Command("create-node", "a node certificate signed by the cluster CA") { ca, name, hosts, outDirectory };
        command.SetAction(parsed => Guarded(parsed, () =>
        {
            var directory = parsed.GetRequiredValue(outDirectory);
            var nodeHosts = parsed.GetValue(hosts) ?? [];
            using var authority = ClusterCertificates.ReadCa(parsed.GetRequiredValue(ca));
            using var node = ClusterCertificates.CreateNode(authority, parsed.GetRequiredValue(name), nodeHosts);
            ClusterCertificates.WriteNode(node, authority, directory);
            parsed.InvocationConfiguration.Output.WriteLine(
                $"node certificate '{node.Subject}' for {string.Join(", ", nodeHosts.Concat(ClusterCertificates.DefaultHosts).Distinct())} " +
                $"(valid until {node.NotAfter:yyyy-MM-dd}) written to {Path.GetFullPath(directory)}: " +
                $"{ClusterCertificates.NodeCertificateFile}, {ClusterCertificates.NodeKeyFile}, {ClusterCertificates.NodePkcs12File}, {ClusterCertificates.CaCertificateFile}");
        }));
        return command;
    }

    private static int Guarded(ParseResult parsed, Action write)
    {
        try
        {
            write();
            return 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or CryptographicException)
        {
            // A missing CA, a key that is there already or a directory that cannot be written: the user's to fix.
            parsed.InvocationConfiguration.Error.WriteLine($"cluster-node cert: {e.Message}");
            return CommandLine.Usage;
        }
    }
}
