using System.CommandLine;
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
    public static Command Command()
    {
        var address = new Argument<string>("ADDRESS") { Description = "the member's address, as `cluster-node members` shows it" };
        var url = CommandLine.UrlOption();
        var token = CommandLine.TokenOption();
        var command = new Command("down", "remove a dead member from the cluster (an operator's decision; it can only come back as a new incarnation)")
        {
            address, url, token,
        };
        command.SetAction(async parsed =>
        {
            var (output, error) = (parsed.InvocationConfiguration.Output, parsed.InvocationConfiguration.Error);
            if (!CommandLine.TryToken(parsed, token, error, out var bearer)) return CommandLine.Usage;
            return await RunAsync(parsed.GetRequiredValue(address), parsed.GetRequiredValue(url), bearer, output, error);
        });
        return command;
    }

    public static async Task<int> RunAsync(string address, Uri url, string? token, TextWriter output, TextWriter error)
    {
        using var client = CommandLine.Client(token);
        try
        {
            var response = await client.PostAsJsonAsync(new Uri(url, "/members/down"), new { address });
            if (!response.IsSuccessStatusCode)
            {
                error.WriteLine($"cluster-node down: {await CommandLine.Refusal(response)}");
                // Not the operator's usage: the same command with the right token would work.
                if ((int)response.StatusCode is 401 or 403) return 1;
                return (int)response.StatusCode is >= 400 and < 500 ? CommandLine.Usage : 1;
            }
            output.WriteLine($"{address} is marked down; the cluster removes it, and it can only come back as a new incarnation");
            return 0;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            error.WriteLine($"cluster-node down: cannot reach {url}: {e.Message}");
            return 1;
        }
    }
}
