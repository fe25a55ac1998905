using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.EndToEnd;

/// <summary>
/// What a person or a log shipper reads from a real <c>cluster-node run</c>: on standard error one line per event,
/// readable by default and JSON on request (<c>cluster-node.logging.format</c>), Akka's own events among them; on
/// standard output only where the node runs and that it stopped.
/// </summary>
public sealed class NodeLoggingSpec(ITestOutputHelper output) : IDisposable
{
    private static readonly Regex TextLine = new(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (trce|dbug|info|warn|fail|crit): \S+\[\d+\] .+$");
    private readonly string _root = TestData.TempDirectory("logging");

    [Fact]
    public async Task With_json_logging_every_line_on_standard_error_is_a_json_event_with_a_level_and_a_message()
    {
        var run = await Run(lines => lines.Any(line => line.StartsWith("cluster-node ", StringComparison.Ordinal)), _ => true,
            "cluster-node.logging.format = json", "akka.loglevel = INFO");

        Assert.Equal(0, run.ExitCode);
        Assert.Equal("cluster-node stopped", run.Out[^1]);
        Assert.NotEmpty(run.Err);
        foreach (var line in run.Err)
        {
            using var json = JsonDocument.Parse(line);
            Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("LogLevel").GetString()), line);
            Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("Message").GetString()), line);
        }
        Assert.Contains(run.Err, line => JsonDocument.Parse(line).RootElement.GetProperty("Category").GetString()!.StartsWith("Akka", StringComparison.Ordinal));
    }

    [Fact]
    public async Task By_default_an_Akka_warning_reaches_the_console_as_one_readable_line()
    {
        // A second seed no one listens on: remoting warns that it cannot reach it (the node still forms its cluster).
        // Stopped once it has started (its line on stdout) and warned: a signal before the start is not this test's subject.
        var run = await Run(lines => lines.Any(line => line.StartsWith("cluster-node ", StringComparison.Ordinal)),
            err => err.Any(line => line.Contains(" warn: ", StringComparison.Ordinal)),
            $"akka.cluster.seed-nodes = [\"akka.tcp://cluster-node@127.0.0.1:{{PORT}}\", \"akka.tcp://cluster-node@127.0.0.1:{Loopback.FreePort()}\"]");

        Assert.Equal(0, run.ExitCode);
        Assert.All(run.Err, line => Assert.Matches(TextLine, line));
        Assert.Contains(run.Err, line => line.Contains(" warn: Akka", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_logging_format_other_than_text_or_json_stops_start_up_with_one_line_naming_the_key()
    {
        var result = await NodeCli.RunAsync(new Dictionary<string, string?>(), TimeSpan.FromSeconds(60),
            "run", "--set", $"cluster-node.data-dir = \"{_root.Replace("\\", "/")}\"", "--set", "cluster-node.logging.format = xml");
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("cluster-node.logging.format", line);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_root)); // nothing opened or written
    }

    private sealed record Ran(int ExitCode, IReadOnlyList<string> Out, IReadOnlyList<string> Err);

    /// <summary>Runs a node until both its outputs have what the test waits for, then stops it with SIGINT.</summary>
    private async Task<Ran> Run(Func<IReadOnlyList<string>, bool> outReady, Func<IReadOnlyList<string>, bool> errReady, params string[] settings)
    {
        var akkaPort = Loopback.FreePort();
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[]
                 {
                     Path.Combine(AppContext.BaseDirectory, "cluster-node.dll"), "run",
                     "--set", $"cluster-node.data-dir = \"{_root.Replace("\\", "/")}\"",
                     "--set", $"cluster-node.http.port = {Loopback.FreePort()}",
                     "--set", $"akka.remote.dot-netty.tcp.port = {akkaPort}",
                 }.Concat(settings.SelectMany(setting => new[] { "--set", setting.Replace("{PORT}", akkaPort.ToString()) })))
            info.ArgumentList.Add(arg);
        var (stdout, stderr) = (new ConcurrentQueue<string>(), new ConcurrentQueue<string>());
        using var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is { } line) stdout.Enqueue(line); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) stderr.Enqueue(line); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await Loopback.Eventually(() =>
            {
                Assert.False(process.HasExited, "the node exited");
                Assert.True(outReady(stdout.ToArray()) && errReady(stderr.ToArray()), "still waiting for the node's lines");
                return Task.CompletedTask;
            }, TimeSpan.FromSeconds(90));
        }
        finally
        {
            if (!process.HasExited)
                using (var kill = Process.Start("kill", ["-INT", process.Id.ToString()])) await kill.WaitForExitAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try { await process.WaitForExitAsync(timeout.Token); }
            catch (OperationCanceledException) { process.Kill(entireProcessTree: true); }
            await process.WaitForExitAsync(); // and the last lines are read
            foreach (var line in stdout) output.WriteLine($"[out] {line}");
            foreach (var line in stderr) output.WriteLine($"[err] {line}");
        }
        return new Ran(process.ExitCode, stdout.ToArray(), stderr.ToArray());
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { /* best effort */ }
    }
}
