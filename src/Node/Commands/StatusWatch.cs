using System.Runtime.InteropServices;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace ClusterNode.Node.Commands;

/// <summary>
/// <c>cluster-node status --watch</c>: reads /status every interval and redraws the peers table in place (Spectre.Console's
/// live display) with a bar, rate and time left for each peer catching up; when stdout is not a terminal, it writes
/// the same as `status` plus one line per catch-up at each read instead, which a log or a pipe can keep.
/// </summary>
internal static class StatusWatch
{
    public static async Task<int> RunAsync(Uri url, string? token, TimeSpan interval, int? count, TextWriter output, TextWriter error, CancellationToken cancellation)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        // Ctrl-C or SIGTERM ends the watch, not the process in the middle of a redraw.
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.Cancel(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.Cancel(); });
        using var client = CommandLine.Client(token);
        var tracker = new CatchUpTracker();
        var interactive = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        var lastReadFailed = false;

        async Task Reads(Func<Read, Task> show)
        {
            using var timer = new PeriodicTimer(interval);
            var reads = 0;
            try
            {
                do
                {
                    var read = await ReadAsync(client, url, tracker);
                    lastReadFailed = read.Problem is not null;
                    await show(read);
                } while (++reads != count && await timer.WaitForNextTickAsync(stop.Token));
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Stopped by the user: the last read stays on the screen.
            }
        }

        if (interactive)
        {
            await AnsiConsole.Live(new Text($"reading {url}status ...")).AutoClear(false).StartAsync(live =>
                Reads(read =>
                {
                    live.UpdateTarget(Render(read, url, interval));
                    live.Refresh();
                    return Task.CompletedTask;
                }));
        }
        else
        {
            await Reads(read =>
            {
                output.WriteLine($"--- {read.At:HH:mm:ss}");
                if (read.Problem is { } problem) error.WriteLine($"cluster-node status: {problem}");
                else
                {
                    StatusCommand.Print(read.Status, url, output);
                    foreach (var (peer, progress) in read.Peers.Where(p => p.Progress.CatchingUp))
                        output.WriteLine($"  {peer} catching up: {progress.Left} records left ({progress.Done * 100:0}%), {Pace(progress)}");
                }
                return output.FlushAsync();
            });
        }
        return lastReadFailed ? 1 : 0;
    }

    private sealed record Read(DateTimeOffset At, JsonElement Status, IReadOnlyList<(string Peer, CatchUpTracker.Progress Progress)> Peers, string? Problem);

    private static async Task<Read> ReadAsync(HttpClient client, Uri url, CatchUpTracker tracker)
    {
        var at = DateTimeOffset.Now;
        try
        {
            var status = await CommandLine.GetJsonAsync(client, new Uri(url, "/status"));
            var peers = status.GetProperty("peers").EnumerateArray()
                .Select(p => (p.GetProperty("peer").GetString() ?? "", p))
                .Select(p => (p.Item1, tracker.Observe(p.Item1, at, p.Item2.GetProperty("lag").GetInt64(), p.Item2.GetProperty("durable").GetInt64(),
                    p.Item2.TryGetProperty("receivedBytes", out var bytes) ? bytes.GetInt64() : 0)))
                .ToList();
            return new Read(at, status, peers, null);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            // A node restarting or briefly unreachable: say so and keep watching.
            return new Read(at, default, [], $"cannot read {new Uri(url, "/status")}: {e.Message}");
        }
    }

    private static string Pace(CatchUpTracker.Progress progress) => progress switch
    {
        { RecordsPerSecond: null } => "rate and time left from the next read",
        { TimeLeft: { } left } => $"{progress.RecordsPerSecond:N0} records/s, {Bytes(progress.BytesPerSecond)}/s, {BytesLeft(progress)}about {left:hh\\:mm\\:ss} left",
        _ => $"{progress.RecordsPerSecond:N0} records/s, {Bytes(progress.BytesPerSecond)}/s, not gaining on the peer's writes",
    };

    private static string BytesLeft(CatchUpTracker.Progress progress) => progress.BytesLeft is { } left ? $"~{Bytes(left)} left, " : "";

    /// <summary>Bytes as a person reads them: 1.5 MB, 230 KB.</summary>
    private static string Bytes(double? bytes) => bytes switch
    {
        null => "?",
        >= 1e9 => $"{bytes / 1e9:0.0} GB",
        >= 1e6 => $"{bytes / 1e6:0.0} MB",
        >= 1e3 => $"{bytes / 1e3:0} KB",
        _ => $"{bytes:0} B",
    };

    private static IRenderable Render(Read read, Uri url, TimeSpan interval)
    {
        var title = new Markup($"[bold]cluster-node status[/] {Markup.Escape(url.ToString())} at {read.At:HH:mm:ss}, every {interval.TotalSeconds:0.###}s; Ctrl-C stops");
        if (read.Problem is { } problem) return new Rows(title, new Markup($"[red]{Markup.Escape(problem)}[/]"));

        var status = read.Status;
        var lines = new List<IRenderable>
        {
            title,
            new Text($"node {status.GetProperty("nodeId").GetString()}, last sequence {status.GetProperty("lastSequence").GetInt64()}"),
        };
        if (status.TryGetProperty("writesRefused", out var refused) && refused.ValueKind == JsonValueKind.String)
            lines.Add(new Markup($"[red]WRITES REFUSED: {Markup.Escape(refused.GetString() ?? "")}[/]"));
        foreach (var member in status.GetProperty("members").EnumerateArray())
            lines.Add(new Text($"member {member.GetProperty("address").GetString()} {member.GetProperty("status").GetString()}" +
                               (member.GetProperty("reachable").GetBoolean() ? "" : " UNREACHABLE")));

        // Fewer columns than `status` prints, to fit an 80-column terminal with the bar: committed and persisted are
        // in `status` itself.
        var table = new Table().Border(TableBorder.Simple)
            .AddColumns("peer", "mode", "durable", "lag", "blobs due", "catch-up", "rate", "bytes left", "left");
        table.Columns[0].NoWrap();
        var progressByPeer = read.Peers.ToDictionary(p => p.Peer, p => p.Progress);
        foreach (var peer in status.GetProperty("peers").EnumerateArray())
        {
            var name = peer.GetProperty("peer").GetString() ?? "";
            var progress = progressByPeer[name];
            table.AddRow(
                new Text(name), new Text(peer.GetProperty("mode").GetString() ?? ""),
                new Text(peer.GetProperty("durable").GetInt64().ToString()), new Text(peer.GetProperty("lag").GetInt64().ToString()),
                new Text(peer.GetProperty("outstandingBlobs").GetInt64().ToString()),
                progress.CatchingUp
                    ? new BreakdownChart().Width(12).HideTags()
                        .AddItem("done", Math.Max(progress.Total - progress.Left, 0), Color.Green)
                        .AddItem("left", progress.Left, Color.Grey)
                    : new Markup("[green]caught up[/]"),
                new Text(progress is { CatchingUp: true, RecordsPerSecond: { } rate } ? $"{rate:N0}/s {Bytes(progress.BytesPerSecond)}/s" : ""),
                new Text(progress is { CatchingUp: true, BytesLeft: { } bytesLeft } ? $"~{Bytes(bytesLeft)}" : ""),
                new Text(progress is { CatchingUp: true, TimeLeft: { } left } ? $"{left:h\\:mm\\:ss}" : ""));
        }
        lines.Add(read.Peers.Count == 0 ? new Text("(no peers)") : table);
        foreach (var peer in status.GetProperty("peers").EnumerateArray())
            if (peer.GetProperty("lastProblem").GetString() is { } problem2)
                lines.Add(new Markup($"[yellow]{Markup.Escape(peer.GetProperty("peer").GetString() ?? "")}: last problem: {Markup.Escape(problem2)}[/]"));
        return new Rows(lines);
    }
}
