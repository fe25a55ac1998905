using System.Buffers.Text;
using System.CommandLine;
using System.Security.Cryptography;
using System.Text;

namespace ClusterNode.Node.Commands;

/// <summary>
/// <c>cluster-node token create [--role read|write|admin]</c>: a new random API token (line 1, for clients) and its entry
/// for <c>cluster-node.http.tokens</c> (line 2, for the nodes' configuration), which holds only the token's sha256.
/// </summary>
public static class TokenCommand
{
    public static Command Command()
    {
        var role = new Option<string>("--role")
        {
            Description = "what the token may do: read (GETs), write (also PUT, DELETE, POST), admin (everything)",
            DefaultValueFactory = _ => "read",
        };
        role.AcceptOnlyFromAmong("read", "write", "admin");
        var create = new Command("create", "a new random API token (line 1) and its entry for cluster-node.http.tokens (line 2)") { role };
        create.SetAction(parsed => Create(parsed.GetRequiredValue(role), parsed.InvocationConfiguration.Output, parsed.InvocationConfiguration.Error));
        return new Command("token", "API tokens") { create };
    }

    public static int Create(string role, TextWriter output, TextWriter error)
    {
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
