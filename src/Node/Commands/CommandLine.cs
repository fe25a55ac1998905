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

    /// <summary>Where the bearer token comes from when --token is not given (a flag would show it in `ps`).</summary>
    public const string TokenVariable = "CLUSTER_NODE_TOKEN";

    /// <summary>
    /// Takes --token TOKEN out of <paramref name="options"/> (else the token is CLUSTER_NODE_TOKEN's, or none): the
    /// other options and the token, or null (with the reason written) when --token has no value or one that cannot be
    /// sent in a header.
    /// </summary>
    public static (string[] Options, string? Token)? WithToken(string[] options, TextWriter error)
    {
        var rest = new List<string>();
        string? token = null;
        for (var i = 0; i < options.Length; i++)
        {
            if (options[i] != "--token")
            {
                rest.Add(options[i]);
                continue;
            }
            if (i + 1 >= options.Length || options[i + 1].Length == 0)
            {
                error.WriteLine("--token needs a value (the token, not its sha256)");
                return null;
            }
            token = options[++i];
        }
        token ??= Environment.GetEnvironmentVariable(TokenVariable)?.Trim() is { Length: > 0 } variable ? variable : null;
        // A header cannot carry spaces or control characters: say so here rather than as an exception from HttpClient.
        if (token is not null && !token.All(c => c is > ' ' and < (char)127))
        {
            error.WriteLine("--token (or CLUSTER_NODE_TOKEN) holds a space or a character that is not printable ASCII");
            return null;
        }
        return (rest.ToArray(), token);
    }

    /// <summary>The --url values in order; null (with the reason written) when an option is wrong.</summary>
    public static List<Uri>? Urls(string[] options, TextWriter error)
    {
        var urls = new List<Uri>();
        for (var i = 0; i < options.Length; i += 2)
        {
            if (options[i] != "--url" || i + 1 >= options.Length)
            {
                error.WriteLine($"unknown or incomplete option '{options[i]}' (expected --url URL or --token TOKEN)");
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

    public static HttpClient Client(string? token)
    {
        var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null) client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>GETs JSON; an answer that is not a success throws with the node's own error and, for 401/403, what to do.</summary>
    public static async Task<JsonElement> GetJsonAsync(HttpClient client, Uri uri)
    {
        using var response = await client.GetAsync(uri);
        if (!response.IsSuccessStatusCode) throw new HttpRequestException(await Refusal(response), null, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>An answer that is not a success in one line: status, the node's JSON error, and a hint for 401 and 403.</summary>
    public static async Task<string> Refusal(HttpResponseMessage response)
    {
        var reason = response.ReasonPhrase;
        try
        {
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            if (body.ValueKind == JsonValueKind.Object && body.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String) reason = e.GetString();
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or HttpRequestException)
        {
            // Not the API's JSON (a proxy's page, say): the status line says enough.
        }
        var hint = (int)response.StatusCode switch
        {
            401 => $" (give --token TOKEN or set {TokenVariable})",
            403 => " (the token's role does not allow this)",
            _ => "",
        };
        return $"{(int)response.StatusCode} {reason}{hint}";
    }

    /// <summary>
    /// GETs <paramref name="path"/> from the node of the first --url (default: a node on the defaults). Exit is set
    /// (with the reason written) when the options are wrong or the node cannot be read.
    /// </summary>
    public static async Task<(int? Exit, Uri Url, JsonElement Body)> ReadFromNode(string command, string path, string[] options, TextWriter error)
    {
        if (WithToken(options, error) is not ({ } rest, var token) || NodeUrl(rest, error) is not { } url) return (Usage, DefaultUrl, default);
        using var client = Client(token);
        try
        {
            return (null, url, await GetJsonAsync(client, new Uri(url, path)));
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
