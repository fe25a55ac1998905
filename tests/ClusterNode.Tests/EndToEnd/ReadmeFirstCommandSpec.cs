using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.EndToEnd;

/// <summary>
/// A newcomer's first command, taken from README.md as it is written, starts a node on the embedded defaults
/// (a cluster of one on 127.0.0.1:4053, HTTP on 8080) that answers /health and takes a write.
/// </summary>
public sealed class ReadmeFirstCommandSpec(ITestOutputHelper output) : IDisposable
{
    private readonly string _workingDirectory = TestData.TempDirectory("readme");

    [Fact]
    public async Task The_first_command_of_the_README_starts_a_node_with_no_flags_that_answers_health()
    {
        var readme = await File.ReadAllTextAsync(Path.Combine(NodeProcess.RepositoryRoot, "README.md"));
        var command = Regex.Match(readme, @"^\s+(dotnet run --project src/Node -- run)\b", RegexOptions.Multiline);
        Assert.True(command.Success, "README.md no longer starts with `dotnet run --project src/Node -- run`; update this test with it");

        // Exactly that command, with the project's path made absolute so the node's data-dir (data/node1, relative)
        // lands in a scratch directory instead of the repository.
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = _workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "run", "--project", Path.Combine(NodeProcess.RepositoryRoot, "src/Node"), "--", "run" }) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => Log(e.Data);
        process.ErrorDataReceived += (_, e) => Log(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            await Loopback.Eventually(async () =>
            {
                Assert.False(process.HasExited, $"the node exited with code {(process.HasExited ? process.ExitCode : 0)}");
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("http://127.0.0.1:8080/health")).StatusCode);
            }, TimeSpan.FromMinutes(3)); // `dotnet run` builds first
            var write = await client.PutAsync("http://127.0.0.1:8080/tables/t/records/first", new StringContent("""{"hello":"world"}"""));
            Assert.Equal(HttpStatusCode.OK, write.StatusCode);
            Assert.True(Directory.Exists(Path.Combine(_workingDirectory, "data", "node1")), "the default data-dir is data/node1");
        }
        finally
        {
            // `dotnet run` does not pass a signal on to the node it started: end both, the node is a scratch one.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    private void Log(string? line)
    {
        if (line is null) return;
        try { output.WriteLine(line); } catch (InvalidOperationException) { /* the test has ended */ }
    }

    public void Dispose()
    {
        try { Directory.Delete(_workingDirectory, recursive: true); } catch (IOException) { }
    }
}
