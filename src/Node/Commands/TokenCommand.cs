using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace ClusterNode.Node.Commands;

/// <summary>
/// <c>cluster-node token create [--role read|write|admin]</c>: a new random API token (line 1, for clients) and its entry
/// for <c>cluster-node.http.tokens</c> (line 2, for the nodes' configuration), which holds only the token's sha256.
/// </summary>
public static class TokenCommand
{
    private const string UsageLine = "usage: cluster-node token create [--role read|write|admin]  (default role: read)";

    public static int Run(string[] options, TextWriter output, TextWriter error)
    {
        if (options.FirstOrDefault() != "create")
        {
            error.WriteLine(UsageLine);
            return CommandLine.Usage;
        }
        var role = "read";
        for (var i = 1; i < options.Length; i += 2)
        {
            if (options[i] != "--role" || i + 1 >= options.Length || options[i + 1] is not ("read" or "write" or "admin"))
            {
                error.WriteLine($"unknown or incomplete option '{string.Join(' ', options[i..Math.Min(i + 2, options.Length)])}' (expected --role read, write or admin)");
                return CommandLine.Usage;
            }
            role = options[i + 1];
        }
        // 256 random bits in base64url: no character a header or a shell needs quoted, and never mistaken for the
        // 64-hex-digit sha256 the configuration wants.
        var token = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var sha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
        output.WriteLine(token);
        output.WriteLine($"{{ sha256 = \"{sha256}\", role = {role} }}");
        error.WriteLine("line 1: the token, for clients (--token or CLUSTER_NODE_TOKEN); it is not kept anywhere");
        error.WriteLine("line 2: its entry for every node's cluster-node.http.tokens = [ ... ]");
        return 0;
    }
}
