using System.Text.Json;

namespace ClusterNode.Node.Commands;

/// <summary><c>cluster-node members [--url URL]</c>: the cluster's members as one node sees them, with reachability.</summary>
public static class MembersCommand
{
    public static async Task<int> RunAsync(string[] options, TextWriter output, TextWriter error)
    {
        var (exit, _, members) = await CommandLine.ReadFromNode("members", "/members", options, error);
        if (exit is { } code) return code;
        var rows = members.EnumerateArray().Select(member => new[]
        {
            member.GetProperty("address").GetString() + (member.GetProperty("self").GetBoolean() ? " (this node)" : ""),
            member.GetProperty("status").GetString() ?? "",
            member.GetProperty("reachable").GetBoolean() ? "reachable" : "UNREACHABLE",
        }).ToList();
        output.Write(CommandLine.Table(["member", "status", "reachability"], rows));
        return 0;
    }
}
