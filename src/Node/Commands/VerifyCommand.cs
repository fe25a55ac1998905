using System.Net.Http.Json;
using System.Text.Json;

namespace ClusterNode.Node.Commands;

/// <summary>
/// <c>cluster-node verify --url A --url B ...</c>: compares the nodes' records, versions and blob hashes table by
/// table, prints every difference, and exits 0 only when all nodes hold the same.
/// </summary>
public static class VerifyCommand
{
    public static async Task<int> RunAsync(string[] options, TextWriter output, TextWriter error)
    {
        var urls = CommandLine.Urls(options, error);
        if (urls is null) return CommandLine.Usage;
        if (urls.Count < 2)
        {
            error.WriteLine("usage: cluster-node verify --url URL --url URL...  (at least two nodes)");
            return CommandLine.Usage;
        }
        using var client = CommandLine.Client();
        try
        {
            var tables = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var url in urls)
                tables.UnionWith(await client.GetFromJsonAsync<string[]>(new Uri(url, "/tables")) ?? []);

            var differences = 0;
            foreach (var table in tables)
            {
                var digests = new List<Dictionary<string, string>>();
                foreach (var url in urls)
                {
                    var entries = await client.GetFromJsonAsync<JsonElement[]>(new Uri(url, $"/tables/{table}/digest")) ?? [];
                    digests.Add(entries.ToDictionary(e => e.GetProperty("id").GetString()!, e => e.GetProperty("version").GetString() + " " + e.GetProperty("blobs").GetRawText()));
                }
                foreach (var id in digests.SelectMany(d => d.Keys).Distinct().Order(StringComparer.Ordinal))
                {
                    var seen = digests.Select(d => d.GetValueOrDefault(id, "(missing)")).ToList();
                    if (seen.Distinct().Count() == 1) continue;
                    differences++;
                    output.WriteLine($"{table}/{id} differs:");
                    for (var i = 0; i < urls.Count; i++) output.WriteLine($"  {urls[i]}: {seen[i]}");
                }
            }
            output.WriteLine(differences == 0
                ? $"{urls.Count} nodes hold the same records and blobs in {tables.Count} table(s)"
                : $"{differences} record(s) differ");
            return differences == 0 ? 0 : 1;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            error.WriteLine($"cluster-node verify: {e.Message}");
            return 1;
        }
    }
}
