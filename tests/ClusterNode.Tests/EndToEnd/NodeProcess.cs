using System.Diagnostics;
using System.Net;
using ClusterNode.Tests.Support;
using Xunit.Abstractions;

namespace ClusterNode.Tests.EndToEnd;

/// <summary>
/// A real cluster-node process, started with <c>dotnet cluster-node.dll run</c> from a hocon file of the
/// repository, with its ports (chosen free at run time) and data directory passed by --set.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;

    private NodeProcess(Process process, string name, int httpPort, int akkaPort)
    {
        _process = process;
        Name = name;
        HttpPort = httpPort;
        AkkaPort = akkaPort;
    }

    public string Name { get; }
    public int HttpPort { get; }
    public int AkkaPort { get; }
    public Uri Url => new($"http://127.0.0.1:{HttpPort}/");
    public bool HasExited => _process.HasExited;

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static NodeProcess Start(string name, string hoconFile, string dataDirectory, int akkaPort, int seedPort, ITestOutputHelper output,
        int? httpPort = null, params string[] extraSettings)
    {
        var http = httpPort ?? Loopback.FreePort();
        var args = new List<string>
        {
            Path.Combine(AppContext.BaseDirectory, "cluster-node.dll"), "run",
            "--config", Path.Combine(RepositoryRoot, hoconFile),
            "--set", $"cluster-node.data-dir = \"{dataDirectory.Replace("\\", "/")}\"",
            "--set", $"cluster-node.http.port = {http}",
            "--set", $"akka.remote.dot-netty.tcp.port = {akkaPort}",
            "--set", $"akka.cluster.seed-nodes = [\"akka.tcp://cluster-node@127.0.0.1:{seedPort}\"]",
            "--set", "akka.loglevel = WARNING",
        };
        foreach (var setting in extraSettings) args.AddRange(["--set", setting]);
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => Log(output, name, e.Data);
        process.ErrorDataReceived += (_, e) => Log(output, name, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new NodeProcess(process, name, http, akkaPort);
    }

    /// <summary>SIGINT: the node leaves the cluster and closes LMDB.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited) return;
        using (var kill = Process.Start("kill", ["-INT", _process.Id.ToString()])) await kill.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await _process.WaitForExitAsync(timeout.Token);
    }

    /// <summary>SIGKILL: the process dies at once, mid-write if it was writing.</summary>
    public async Task KillAsync()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync(); }
        catch (OperationCanceledException) { await KillAsync(); }
        _process.Dispose();
    }

    private static void Log(ITestOutputHelper output, string name, string? line)
    {
        if (line is null) return;
        try { output.WriteLine($"[{name}] {line}"); } catch (InvalidOperationException) { /* the test has ended */ }
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Cluster.sln"))) return dir.FullName;
        throw new InvalidOperationException("Cluster.sln not found above " + AppContext.BaseDirectory);
    }
}
