using System.Diagnostics;
using ClusterNode.Tests.Support;
using Xunit.Abstractions;

namespace ClusterNode.Tests.EndToEnd;

/// <summary>
/// How to start one cluster-node process: a hocon file of the repository, with its ports (chosen free at run time),
/// seed list and data directory passed by --set. Kept by the process, so a test can start the same node again on
/// the same ports and data.
/// </summary>
public sealed record NodeLaunch(string Name, string HoconFile, string DataDirectory, int AkkaPort, int HttpPort, IReadOnlyList<int> SeedPorts)
{
    /// <summary>More --set lines, after the ones above, so they win.</summary>
    public IReadOnlyList<string> Settings { get; init; } = [];

    /// <summary>Every line the process prints is appended here when set (a chaos run prints too many to show them all).</summary>
    public string? LogFile { get; init; }

    /// <summary>Which lines also go to the test output; null: all of them.</summary>
    public Func<string, bool>? Echo { get; init; }
}

/// <summary>
/// A real cluster-node process, started with <c>dotnet cluster-node.dll run</c>. It remembers whether the test
/// stopped or killed it, so that a test can tell an exit it caused from one the node made on its own.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter? _log;
    private readonly object _logLock = new();

    private NodeProcess(Process process, NodeLaunch launch, StreamWriter? log)
    {
        _process = process;
        Launch = launch;
        _log = log;
        Exited = process.WaitForExitAsync().ContinueWith(_ => process.ExitCode, TaskScheduler.Default);
    }

    public NodeLaunch Launch { get; }
    public string Name => Launch.Name;
    public int HttpPort => Launch.HttpPort;
    public int AkkaPort => Launch.AkkaPort;
    public Uri Url => new($"http://127.0.0.1:{HttpPort}/");
    public bool HasExited => _process.HasExited;
    public int Pid => _process.Id;

    /// <summary>Completes with the exit code when the process ends, for whatever reason.</summary>
    public Task<int> Exited { get; }

    /// <summary>True once the test has sent SIGINT or SIGKILL: an exit after that is the test's doing.</summary>
    public bool EndedByTest { get; private set; }

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static NodeProcess Start(string name, string hoconFile, string dataDirectory, int akkaPort, int seedPort, ITestOutputHelper output,
        int? httpPort = null, params string[] extraSettings) =>
        Start(new NodeLaunch(name, hoconFile, dataDirectory, akkaPort, httpPort ?? Loopback.FreePort(), [seedPort]) { Settings = extraSettings }, output);

    public static NodeProcess Start(NodeLaunch launch, ITestOutputHelper output)
    {
        var seeds = string.Join(", ", launch.SeedPorts.Select(port => $"\"akka.tcp://cluster-node@127.0.0.1:{port}\""));
        var args = new List<string>
        {
            Path.Combine(AppContext.BaseDirectory, "cluster-node.dll"), "run",
            "--config", Path.Combine(RepositoryRoot, launch.HoconFile),
            "--set", $"cluster-node.data-dir = \"{launch.DataDirectory.Replace("\\", "/")}\"",
            "--set", $"cluster-node.http.port = {launch.HttpPort}",
            "--set", $"akka.remote.dot-netty.tcp.port = {launch.AkkaPort}",
            "--set", $"akka.cluster.seed-nodes = [{seeds}]",
            // CLUSTER_TEST_AKKA_LOGLEVEL=DEBUG shows what a failing run's nodes did.
            "--set", $"akka.loglevel = {Environment.GetEnvironmentVariable("CLUSTER_TEST_AKKA_LOGLEVEL") ?? "WARNING"}",
        };
        foreach (var setting in launch.Settings) args.AddRange(["--set", setting]);
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        var log = launch.LogFile is null ? null : new StreamWriter(launch.LogFile, append: true) { AutoFlush = true };
        var process = Process.Start(info)!;
        var node = new NodeProcess(process, launch, log);
        node.Write(output, $"--- started, pid {process.Id}");
        process.OutputDataReceived += (_, e) => node.Write(output, e.Data);
        process.ErrorDataReceived += (_, e) => node.Write(output, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    /// <summary>SIGINT: the node leaves the cluster and closes LMDB.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited) return;
        EndedByTest = true;
        using (var kill = Process.Start("kill", ["-INT", _process.Id.ToString()])) await kill.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(timeout.Token);
    }

    /// <summary>SIGKILL: the process dies at once, mid-write if it was writing.</summary>
    public async Task KillAsync()
    {
        if (_process.HasExited) return;
        EndedByTest = true;
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync(); }
        catch (OperationCanceledException) { await KillAsync(); }
        // The output readers may still deliver the last lines after the exit.
        await _process.WaitForExitAsync();
        _process.Dispose();
        lock (_logLock) _log?.Dispose();
    }

    private void Write(ITestOutputHelper output, string? line)
    {
        if (line is null) return;
        if (_log is not null)
            lock (_logLock)
                try { _log.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {line}"); } catch (ObjectDisposedException) { /* disposed */ }
        if (Launch.Echo is { } echo && !echo(line)) return;
        try { output.WriteLine($"[{Name}] {line}"); } catch (InvalidOperationException) { /* the test has ended */ }
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) return dir.FullName;
        throw new InvalidOperationException("Cluster.sln not found above " + AppContext.BaseDirectory);
    }
}
