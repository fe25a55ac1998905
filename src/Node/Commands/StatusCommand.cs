using System.CommandLine;
using System.Text.Json;
using Akka.Configuration;

namespace ClusterNode.Node.Commands;

/// <summary>
/// <c>cluster-node status [--url URL] [--watch [--interval 1s] [--count N]]</c>: the node's peers, cursors and lag as a
/// table, once or redrawn every interval (<see cref="StatusWatch"/>).
/// </summary>
public static class StatusCommand
{
    public static Command Command()
    {
        var url = CommandLine.UrlOption();
        var token = CommandLine.TokenOption();
        var watch = new Option<bool>("--watch", "-w")
        {
            Description = "redraw every interval until Ctrl-C, with each peer's catch-up: records left, rate, time left",
        };
        // No DefaultValueFactory: --help would show it as 00:00:01.
        var interval = new Option<TimeSpan?>("--interval")
        {
            Description = "with --watch: time between two reads of the node, as in HOCON (500ms, 1s, 2m) [default: 1s]",
            HelpName = "DURATION",
            CustomParser = result => Interval(result, result.Tokens.Single().Value),
        };
        var count = new Option<int?>("--count")
        {
            Description = "with --watch: stop after this many reads (for a script or a log) instead of at Ctrl-C",
            HelpName = "N",
        };
        count.AtLeast(1, "--count needs a whole number, 1 or more");
        var command = new Command("status", "the node's peers, cursors and lag, as a table") { url, token, watch, interval, count };
        command.Validators.Add(result =>
        {
            if (result.GetValue(watch)) return;
            foreach (var option in new Option[] { interval, count })
                if (result.GetResult(option) is { Implicit: false })
                    result.AddError($"{option.Name} goes with --watch");
        });
        command.SetAction(async (parsed, cancellation) =>
        {
            var (output, error) = (parsed.InvocationConfiguration.Output, parsed.InvocationConfiguration.Error);
            if (!CommandLine.TryToken(parsed, token, error, out var bearer)) return CommandLine.Usage;
            var node = parsed.GetRequiredValue(url);
            return parsed.GetValue(watch)
                ? await StatusWatch.RunAsync(node, bearer, parsed.GetValue(interval) ?? TimeSpan.FromSeconds(1), parsed.GetValue(count), output, error, cancellation)
                : await RunAsync(node, bearer, output, error);
        });
        return command;
    }

    /// <summary>A duration as HOCON writes one, which operators already use in their config files.</summary>
    private static TimeSpan? Interval(System.CommandLine.Parsing.ArgumentResult result, string text)
    {
        TimeSpan? interval = null;
        try
        {
            if (!text.Contains('\n')) interval = ConfigurationFactory.ParseString($"interval = {text}").GetTimeSpan("interval", null, allowInfinite: false);
        }
        catch (Exception e) when (e is ConfigurationException or FormatException or OverflowException)
        {
            // Not a duration: said below.
        }
        if (interval is { } value && value >= TimeSpan.FromMilliseconds(100) && value <= TimeSpan.FromHours(1)) return value;
        result.AddError($"--interval '{text}' is not a duration from 100ms to 1h (e.g. 500ms, 1s, 2m)");
        return null;
    }

    public static async Task<int> RunAsync(Uri url, string? token, TextWriter output, TextWriter error)
    {
        var (exit, status) = await CommandLine.ReadFromNode("status", url, "/status", token, error);
        if (exit is { } code) return code;
        Print(status, url, output);
        return 0;
    }

    /// <summary>What `status` prints: the node, its members, a table of peers, and each peer's last problem.</summary>
    internal static void Print(JsonElement status, Uri url, TextWriter output)
    {
        output.WriteLine($"node {status.GetProperty("nodeId").GetString()} at {url}, last sequence {status.GetProperty("lastSequence").GetInt64()}");
        if (status.TryGetProperty("writesRefused", out var refused) && refused.ValueKind == JsonValueKind.String)
            output.WriteLine($"  WRITES REFUSED: {refused.GetString()}");
        foreach (var member in status.GetProperty("members").EnumerateArray())
            output.WriteLine($"  member {member.GetProperty("address").GetString()} {member.GetProperty("status").GetString()}{(member.GetProperty("reachable").GetBoolean() ? "" : " UNREACHABLE")}");
        var rows = status.GetProperty("peers").EnumerateArray().Select(peer => new[]
        {
            peer.GetProperty("peer").GetString() ?? "",
            peer.GetProperty("mode").GetString() ?? "",
            peer.GetProperty("committed").GetInt64().ToString(),
            peer.GetProperty("durable").GetInt64().ToString(),
            peer.GetProperty("persistedCursor").GetInt64().ToString(),
            peer.GetProperty("outstandingBlobs").GetInt64().ToString(),
            peer.GetProperty("blobGap").GetInt64().ToString(),
            peer.GetProperty("lag").GetInt64().ToString(),
        }).ToList();
        output.Write(CommandLine.Table(["peer", "mode", "committed", "durable", "persisted", "outstanding blobs", "gap", "lag"], rows));
        if (rows.Count == 0) output.WriteLine("  (no peers)");
        foreach (var peer in status.GetProperty("peers").EnumerateArray())
            if (peer.GetProperty("lastProblem").GetString() is { } problem)
                output.WriteLine($"  {peer.GetProperty("peer").GetString()}: last problem: {problem}");
    }
}
