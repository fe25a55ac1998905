using System.Net.Http.Json;
using System.Text.Json;

namespace ClusterNode.Node.Commands;

/// <summary>
/// <c>cluster-node down ADDRESS [--url URL]</c>: removes a member the operator knows is gone for good (its disk
/// lost, its host retired). Nothing downs a member automatically; a member that is merely unreachable comes back
/// on its own and resumes from its cursors.
/// </summary>
public static class DownCommand
{
    public static async Task<int> RunAsync(string[] options, TextWriter output, TextWriter error)
    {
        if (options.Length == 0 || options[0].StartsWith("--", StringComparison.Ordinal))
        {
            error.WriteLine("usage: cluster-node down ADDRESS [--url URL] [--token TOKEN]  (ADDRESS as `cluster-node members` shows it)");
            return CommandLine.Usage;
        }
        if (CommandLine.WithToken(options[1..], error) is not ({ } rest, var token) || CommandLine.NodeUrl(rest, error) is not { } url) return CommandLine.Usage;
        using var client = CommandLine.Client(token);
        try
        {
            var response = await client.PostAsJsonAsync(new Uri(url, "/members/down"), new { address = options[0] });
            if (!response.IsSuccessStatusCode)
            {
                error.WriteLine($"cluster-node down: {await CommandLine.Refusal(response)}");
                // Not the operator's usage: the same command with the right token would work.
                if ((int)response.StatusCode is 401 or 403) return 1;
                return (int)response.StatusCode is >= 400 and < 500 ? CommandLine.Usage : 1;
            }
            output.WriteLine($"{options[0]} is marked down; the cluster removes it, and it can only come back as a new incarnation");
            return 0;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            error.WriteLine($"cluster-node down: cannot reach {url}: {e.Message}");
            return 1;
        }
    }
}
