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

    public static async Task<int> RunAsync(string[] options, TextWriter output, TextWriter error)
    {
        if (CommandLine.WithToken(options, error) is not ({ } withoutToken, var token)) return CommandLine.Usage;
        options = withoutToken;
        var deep = false;
        var maxAgeSeconds = 0;
        var rest = new List<string>();
        for (var i = 0; i < options.Length; i++)
        {
            if (options[i] == "--deep") deep = true;
            else if (options[i] == "--max-age")
            {
                if (i + 1 >= options.Length || !int.TryParse(options[i + 1], out maxAgeSeconds) || maxAgeSeconds < 0)
                {
                    error.WriteLine("--max-age needs a whole number of seconds, 0 or more");
                    return CommandLine.Usage;
                }
                i++;
            }
            else rest.Add(options[i]);
        }
        var urls = CommandLine.Urls(rest.ToArray(), error);
        if (urls is null) return CommandLine.Usage;
        if (urls.Count < 2)
        {
            error.WriteLine("usage: cluster-node verify [--deep [--max-age SECONDS]] --url URL --url URL... [--token TOKEN]  (at least two nodes)");
            return CommandLine.Usage;
        }
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
