using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace ClusterNode.Node.Commands;

/// <summary>What the commands share: their options (System.CommandLine), their HTTP client and their table layout.</summary>
internal static class CommandLine
{
    public const int Usage = 2;

    /// <summary>The HTTP API of a node started on the defaults.</summary>
    public static readonly Uri DefaultUrl = new("http://127.0.0.1:8080");

    /// <summary>Where the bearer token comes from when --token is not given (a flag would show it in `ps`).</summary>
    public const string TokenVariable = "CLUSTER_NODE_TOKEN";

    /// <summary>--url URL, one node's HTTP API (default: a node on the defaults).</summary>
    public static Option<Uri> UrlOption() => new("--url")
    {
        Description = "the node's HTTP API",
        HelpName = "URL",
        DefaultValueFactory = _ => DefaultUrl,
        CustomParser = result => ParseUrl(result, result.Tokens.Single().Value),
    };

    /// <summary>--url URL, repeated: several nodes.</summary>
    public static Option<Uri[]> UrlsOption(string description) => new("--url")
    {
        Description = description,
        HelpName = "URL",
        Required = true,
        CustomParser = result => result.Tokens.Select(t => ParseUrl(result, t.Value)).OfType<Uri>().ToArray(),
    };

    private static Uri? ParseUrl(ArgumentResult result, string text)
    {
        if (Uri.TryCreate(text, UriKind.Absolute, out var url) && url.Scheme is "http" or "https") return url;
        result.AddError($"--url '{text}' is not an http URL");
        return null;
    }

    /// <summary>
    /// --token TOKEN; without it, CLUSTER_NODE_TOKEN's, read by <see cref="TryToken"/> rather than as a default value,
    /// which --help would print.
    /// </summary>
    public static Option<string?> TokenOption()
    {
        var option = new Option<string?>("--token")
        {
            Description = $"the API's bearer token [default: ${TokenVariable}, which keeps it out of `ps`]",
            HelpName = "TOKEN",
        };
        option.Validators.Add(result =>
        {
            if (result.Tokens.Select(t => TokenProblem(t.Value, "--token")).FirstOrDefault(p => p is not null) is { } problem) result.AddError(problem);
        });
        return option;
    }

    /// <summary>
    /// The token of --token (checked by its parser) or else of CLUSTER_NODE_TOKEN, or none; false, with the reason
    /// written, when the variable's cannot be sent in a header.
    /// </summary>
    public static bool TryToken(ParseResult parsed, Option<string?> option, TextWriter error, out string? token)
    {
        if (parsed.GetResult(option) is { Implicit: false })
        {
            token = parsed.GetValue(option);
            return true;
        }
        token = Environment.GetEnvironmentVariable(TokenVariable)?.Trim() is { Length: > 0 } variable ? variable : null;
        if (token is not null && TokenProblem(token, TokenVariable) is { } problem)
        {
            error.WriteLine($"cluster-node: {problem}");
            return false;
        }
        return true;
    }

    private static string? TokenProblem(string token, string source) =>
        token.Length == 0 ? $"{source} needs a value (the token, not its sha256)"
        // A header cannot carry spaces or control characters: say so here rather than as an exception from HttpClient.
        : !token.All(c => c is > ' ' and < (char)127) ? $"{source} holds a space or a character that is not printable ASCII"
        : null;

    /// <summary>
    /// Refuses a whole number below <paramref name="min"/>. It reads the token, not the value: a validator runs even when
    /// the value could not be converted (System.CommandLine reports that one itself), and reading it then throws.
    /// </summary>
    public static T AtLeast<T>(this T option, int min, string problem) where T : Option
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count == 1 && int.TryParse(result.Tokens[0].Value, out var value) && value < min) result.AddError(problem);
        });
        return option;
    }

    /// <summary>Refuses an empty value (`--out ""`): a path or a name must say something.</summary>
    public static T NotEmpty<T>(this T option) where T : Option
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.FirstOrDefault(t => t.Value.Length == 0) is not null)
                result.AddError($"{option.Name} needs a non-empty value");
        });
        return option;
    }

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

    /// <summary>GETs <paramref name="path"/> from the node; Exit is set (with the reason written) when it cannot be read.</summary>
    public static async Task<(int? Exit, JsonElement Body)> ReadFromNode(string command, Uri url, string path, string? token, TextWriter error)
    {
        using var client = Client(token);
        try
        {
            return (null, await GetJsonAsync(client, new Uri(url, path)));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException)
        {
            error.WriteLine($"cluster-node {command}: cannot read {new Uri(url, path)}: {e.Message}");
            return (1, default);
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
