using System.CommandLine;

namespace ClusterNode.Node.Commands;

/// <summary><c>cluster-node members [--url URL]</c>: the cluster's members as one node sees them, with reachability.</summary>
public static class MembersCommand
{
    public static Command Command()
    {
        var url = CommandLine.UrlOption();
        var token = CommandLine.TokenOption();
        var command = new Command("members", "the cluster's members and their reachability, as one node sees them") { url, token };
        command.SetAction(async parsed =>
        {
            var (output, error) = (parsed.InvocationConfiguration.Output, parsed.InvocationConfiguration.Error);
            if (!CommandLine.TryToken(parsed, token, error, out var bearer)) return CommandLine.Usage;
            return await RunAsync(parsed.GetRequiredValue(url), bearer, output, error);
        });
        return command;
    }

    public static async Task<int> RunAsync(Uri url, string? token, TextWriter output, TextWriter error)
    {
        var (exit, members) = await CommandLine.ReadFromNode("members", url, "/members", token, error);
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
