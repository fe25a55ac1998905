using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace ClusterNode.Node.Commands;

/// <summary>What the client commands share: their options, their HTTP client and their table layout.</summary>
internal static class CommandLine
{
    public const int Usage = 2;

    /// <summary>The HTTP API of a node started on the defaults.</summary>
    public static readonly Uri DefaultUrl = new("http://127.0.0.1:8080");

    /// <summary>The --url values in order; null (with the reason written) when an option is wrong.</summary>
    public static List<Uri>? Urls(string[] options, TextWriter error)
    {
        var urls = new List<Uri>();
        for (var i = 0; i < options.Length; i += 2)
        {
            if (options[i] != "--url" || i + 1 >= options.Length)
            {
                error.WriteLine($"unknown or incomplete option '{options[i]}' (expected --url URL)");
                return null;
            }
            if (!Uri.TryCreate(options[i + 1], UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            {
                error.WriteLine($"--url '{options[i + 1]}' is not an http URL");
                return null;
            }
            urls.Add(url);
        }
        return urls;
    }

    /// <summary>The node a command talks to: the first --url, or a node on the defaults; null (reason written) on bad options.</summary>
    public static Uri? NodeUrl(string[] options, TextWriter error) =>
        Urls(options, error) is { } urls ? urls.FirstOrDefault() ?? DefaultUrl : null;

    public static HttpClient Client() => new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>
    /// GETs <paramref name="path"/> from the node of the first --url (default: a node on the defaults). Exit is set
    /// (with the reason written) when the options are wrong or the node cannot be read.
    /// </summary>
    public static async Task<(int? Exit, Uri Url, JsonElement Body)> ReadFromNode(string command, string path, string[] options, TextWriter error)
    {
        if (NodeUrl(options, error) is not { } url) return (Usage, DefaultUrl, default);
        using var client = Client();
        try
        {
            return (null, url, await client.GetFromJsonAsync<JsonElement>(new Uri(url, path)));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            error.WriteLine($"cluster-node {command}: cannot read {new Uri(url, path)}: {e.Message}");
            return (1, url, default);
        }
    }

    public static string Table(string[] headers, IReadOnlyList<string[]> rows)
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, rows.Select(r => r[i].Length).DefaultIfEmpty(0).Max())).ToArray();
        var text = new StringBuilder();
        void Line(IEnumerable<string> cells) => text.AppendLine("  " + string.Join("  ", cells.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
        Line(headers);
        foreach (var row in rows) Line(row);
        return text.ToString();
    }
}
