using System.Net.Http.Json;
using System.Text.Json;

namespace ClusterNode.Node.Commands;

/// <summary><c>cluster-node members [--url URL]</c>: the cluster's members as one node sees them, with reachability.</summary>
public static class MembersCommand
{
    public static async Task<int> RunAsync(string[] options, TextWriter output, TextWriter error)
    {
        var urls = CommandLine.Urls(options, error);
        if (urls is null) return CommandLine.Usage;
        var url = urls.Count == 0 ? CommandLine.DefaultUrl : urls[0];
        using var client = CommandLine.Client();
        JsonElement members;
        try
        {
            members = await client.GetFromJsonAsync<JsonElement>(new Uri(url, "/members"));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            error.WriteLine($"cluster-node members: cannot read {url}members: {e.Message}");
            return 1;
        }
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
