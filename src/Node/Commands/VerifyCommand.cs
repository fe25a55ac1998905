using System.CommandLine;
using System.Text.Json;

namespace ClusterNode.Node.Commands;

/// <summary>
/// <c>cluster-node verify [--deep [--max-age SECONDS]] --url A --url B ...</c>: compares the nodes' records, versions
/// and blob hashes table by table, prints every difference, and exits 0 only when all nodes hold the same. With
/// <c>--deep</c> every node hashes its actual blob files (or answers from a read or scrub no older than --max-age), so a
/// file missing, rotten or lost anywhere is a difference too, even when every node lacks it alike.
/// </summary>
public static class VerifyCommand
{
    private static readonly string[] DamagedStates = ["missing", "corrupt", "lost"];

    public static Command Command()
    {
        var urls = CommandLine.UrlsOption("a node's HTTP API; at least two");
        urls.Validators.Add(result =>
        {
            if (result.Tokens.Count < 2) result.AddError("verify compares nodes: give at least two --url");
        });
        var deep = new Option<bool>("--deep") { Description = "every node hashes its actual blob files, so a file missing, rotten or lost anywhere is a difference too" };
        var maxAge = new Option<int>("--max-age")
        {
            Description = "with --deep: a node may answer from a read or scrub of the file no older than this",
            HelpName = "SECONDS",
        };
        maxAge.AtLeast(0, "--max-age needs a whole number of seconds, 0 or more");
        var token = CommandLine.TokenOption();
        var command = new Command("verify", "compare the nodes' records, versions and blob hashes; exit 0 iff all hold the same") { urls, deep, maxAge, token };
        command.SetAction(async parsed =>
        {
            var (output, error) = (parsed.InvocationConfiguration.Output, parsed.InvocationConfiguration.Error);
            if (!CommandLine.TryToken(parsed, token, error, out var bearer)) return CommandLine.Usage;
            return await RunAsync(parsed.GetRequiredValue(urls), parsed.GetValue(deep), parsed.GetValue(maxAge), bearer, output, error);
        });
        return command;
    }

    public static async Task<int> RunAsync(IReadOnlyList<Uri> urls, bool deep, int maxAgeSeconds, string? token, TextWriter output, TextWriter error)
    {
        using var client = CommandLine.Client(token);
        try
        {
            var tables = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var url in urls)
                tables.UnionWith((await CommandLine.GetJsonAsync(client, new Uri(url, "/tables"))).Deserialize<string[]>() ?? []);

            var differences = 0;
            foreach (var table in tables)
            {
                var digests = new List<Dictionary<string, string>>();
                foreach (var url in urls)
                {
                    var query = deep ? $"?deep=true&maxAgeSeconds={maxAgeSeconds}" : "";
                    var entries = (await CommandLine.GetJsonAsync(client, new Uri(url, $"/tables/{table}/digest{query}"))).EnumerateArray().ToList();
                    digests.Add(entries.ToDictionary(e => e.GetProperty("id").GetString()!, e => e.GetProperty("version").GetString() + " " + e.GetProperty("blobs").GetRawText()));
                }
                foreach (var id in digests.SelectMany(d => d.Keys).Distinct().Order(StringComparer.Ordinal))
                {
                    var seen = digests.Select(d => d.GetValueOrDefault(id, "(missing)")).ToList();
                    var damaged = seen.Any(s => DamagedStates.Any(state => s.Contains($"\"{state}\"", StringComparison.Ordinal)));
                    if (seen.Distinct().Count() == 1 && !damaged) continue;
                    differences++;
                    output.WriteLine($"{table}/{id} differs:");
                    for (var i = 0; i < urls.Count; i++) output.WriteLine($"  {urls[i]}: {seen[i]}");
                }
            }
            output.WriteLine(differences == 0
                ? $"{urls.Count} nodes hold the same records and blobs in {tables.Count} table(s){(deep ? ", every blob's bytes checked" : "")}"
                : $"{differences} record(s) differ{(deep ? " or have blob bytes missing, corrupt or lost" : "")}");
            return differences == 0 ? 0 : 1;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            error.WriteLine($"cluster-node verify: {e.Message}");
            return 1;
        }
    }
}
