using ClusterNode.Actors.Security;

namespace ClusterNode.Bench;

/// <summary>
/// Line 6: what mutual TLS between members costs catch-up. The certificates are made in-process by the same code as
/// <c>cluster-node cert</c> (one CA, a certificate each for A and B), and each node's settings are what a deployment
/// sets: <c>cluster-node.tls { enabled, ca, certificate }</c>.
/// </summary>
public static class TlsCost
{
    /// <summary>Makes a CA and node certificates for A and B under <paramref name="directory"/>; returns each node's HOCON.</summary>
    public static (string A, string B) Settings(string directory)
    {
        using var ca = ClusterCertificates.CreateCa();
        string Node(string name)
        {
            var dir = Path.Combine(directory, name);
            using var node = ClusterCertificates.CreateNode(ca, name, []);
            ClusterCertificates.WriteNode(node, ca, dir);
            var path = dir.Replace("\\", "/");
            return $"cluster-node.tls {{ enabled = on, ca = \"{path}/{ClusterCertificates.CaCertificateFile}\", certificate = \"{path}/{ClusterCertificates.NodePkcs12File}\" }}";
        }
        return (Node("bench-a"), Node("bench-b"));
    }
}
