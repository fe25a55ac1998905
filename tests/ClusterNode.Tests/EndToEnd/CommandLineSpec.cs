using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.EndToEnd;

/// <summary>
/// The command line as an operator meets it: every command's --help, --version, bad usage (one line, exit 2), an
/// unknown configuration key, and `status --watch` following a node as it catches up. Help and usage run in-process
/// (the same parser and exit code as the program, without a process start each); the rest as real processes.
/// </summary>
public sealed class CommandLineSpec : NodeProcessSpec
{
    public CommandLineSpec(ITestOutputHelper output) : base("cli", output, TimeSpan.FromSeconds(30)) { }

    /// <summary>Every command and subcommand of the SPEC's "Command line", with what its --help must name.</summary>
    public static TheoryData<string, string[]> Commands => new()
    {
        { "", ["run", "status", "verify", "members", "down", "token", "cert", "--version"] },
        { "run", ["--config", "--set"] },
        { "status", ["--url", "--token", "--watch", "--interval", "--count"] },
        { "verify", ["--url", "--deep", "--max-age", "--token"] },
        { "members", ["--url", "--token"] },
        { "down", ["ADDRESS", "--url", "--token"] },
        { "token", ["create"] },
        { "token create", ["--role", "read", "write", "admin"] },
        { "cert", ["create-ca", "create-node"] },
        { "cert create-ca", ["--out"] },
        { "cert create-node", ["--ca", "--name", "--host", "--out"] },
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Help_of_every_command_exits_0_and_names_its_options(string command, string[] named)
    {
        foreach (var help in new[] { "--help", "-h" })
        {
            var (exit, output, error) = await InProcess([.. Words(command), help]);
            Assert.True(exit == 0, $"{command} {help}: exit {exit}\n{output}{error}");
            Assert.Equal("", error);
            foreach (var name in named) Assert.Contains(name, output);
        }
    }

    [Theory]
    [InlineData("", "Required command was not provided")]
    [InlineData("serve", "'serve'")]
    [InlineData("run --port 8080", "'--port'")]
    [InlineData("run --config", "'--config'")]
    [InlineData("status --url ftp://node", "--url 'ftp://node' is not an http URL")]
    [InlineData("status --url http://a --url http://b", "'--url' expects a single argument")]
    [InlineData("status --interval 2s", "--interval goes with --watch")]
    [InlineData("status --watch --interval soon", "--interval 'soon' is not a duration")]
    [InlineData("status --watch --count 0", "--count needs a whole number, 1 or more")]
    [InlineData("status --token", "'--token'")]
    [InlineData("members --token EMPTY", "--token needs a value")]
    [InlineData("down a --token SPACED", "--token holds a space")]
    [InlineData("verify --url http://a", "at least two --url")]
    [InlineData("verify --url http://a --url http://b --max-age -1", "--max-age needs a whole number of seconds")]
    [InlineData("verify --url http://a --url http://b --max-age ten", "'ten'")]
    [InlineData("members --urls http://a", "'--urls'")]
    [InlineData("down", "Required argument missing for command: 'down'")]
    [InlineData("down a b", "'b'")]
    [InlineData("token", "Required command was not provided")]
    [InlineData("token create --role root", "'root'")]
    [InlineData("cert sign-node --out x", "'sign-node'")]
    [InlineData("cert create-ca", "Option '--out' is required")]
    [InlineData("cert create-ca --out a --out b", "'--out' expects a single argument")]
    [InlineData("cert create-node --ca ca --name bad/name --out x", "--name 'bad/name'")]
    [InlineData("cert create-node --ca ca --name a --name b --out x", "'--name' expects a single argument")]
    [InlineData("cert create-node --ca ca --out x --name", "'--name'")]
    [InlineData("status --watch --count", "'--count'")]
    [InlineData("cert create-node --ca ca --name n --host bad_host! --out x", "--host 'bad_host!'")]
    public async Task Bad_usage_gets_one_line_naming_what_was_wrong_and_exit_code_2(string arguments, string named)
    {
        var (exit, output, error) = await InProcess(Words(arguments));
        Assert.True(exit == 2, $"{arguments}: exit {exit}\n{output}{error}");
        Assert.Equal("", output);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(named, line);
        Assert.Contains("--help", line);
    }

    [Fact]
    public async Task The_program_answers_version_help_and_bad_usage_with_their_exit_codes()
    {
        var version = await NodeCli.RunAsync("--version");
        Assert.True(version.ExitCode == 0, version.ToString());
        Assert.Matches(@"^\d+\.\d+\.\d+", version.Output);

        var help = await NodeCli.RunAsync("cert", "create-node", "--help");
        Assert.True(help.ExitCode == 0, help.ToString());
        Assert.Contains("--ca", help.Output);

        var bad = await NodeCli.RunAsync("status", "--bogus");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("'--bogus'", Assert.Single(bad.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public async Task A_misspelt_configuration_key_stops_start_up_with_exit_2_naming_it_and_the_key_meant()
    {
        var result = await NodeCli.RunAsync(new Dictionary<string, string?>(), TimeSpan.FromMinutes(1),
            "run", "--set", $"cluster-node.data-dir = \"{Path.Combine(Root, "typo").Replace("\\", "/")}\"", "--set", "cluster-node.replication.windw=4");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("unknown key cluster-node.replication.windw (did you mean cluster-node.replication.window?)", result.Error);
        Assert.False(Directory.Exists(Path.Combine(Root, "typo")), "a node that refused to start made its data directory");
    }

    [Fact]
    public async Task Status_watch_follows_a_peer_catching_up_and_ends_when_stopped()
    {
        var seedPort = Loopback.FreePort();
        var a = Start("a", "hocon/local/node1.conf", seedPort, seedPort);
        await Client.Healthy(a);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(new Uri(a.Url, $"tables/docs/records/r{i}"), NodeApi.Json("{}"))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(new Uri(a.Url, $"tables/docs/records/r{i}/blobs/file"), new ByteArrayContent(TestData.Blob(i, 256 * 1024)))).StatusCode);
        }
        var aId = await Client.NodeId(a);
        // B saves blob chunks slowly, so its catch-up lasts long enough for a few reads to see it.
        var b = Start("b", "hocon/local/node2.conf", Loopback.FreePort(), seedPort, null, "cluster-node.fault-injection.blob-save.chunk-delay = 40ms");

        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "cluster-node.dll"), "status", "--watch", "--interval", "200ms", "--url", b.Url.ToString() })
            info.ArgumentList.Add(arg);
        using var watch = Process.Start(info)!;
        var lines = new ConcurrentQueue<string>();
        var catchingUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        watch.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not { } line) return;
            lines.Enqueue(line);
            if (line.Contains($"{aId} catching up:", StringComparison.Ordinal)) catchingUp.TrySetResult();
        };
        watch.ErrorDataReceived += (_, e) => { if (e.Data is { } line) lines.Enqueue("stderr: " + line); };
        watch.BeginOutputReadLine();
        watch.BeginErrorReadLine();
        try
        {
            await catchingUp.Task.WaitAsync(TimeSpan.FromMinutes(1));
        }
        finally
        {
            foreach (var line in lines) Output.WriteLine($"[watch] {line}");
            if (!watch.HasExited)
                using (var interrupt = Process.Start("kill", ["-INT", watch.Id.ToString()])) await interrupt.WaitForExitAsync();
        }
        await watch.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, watch.ExitCode);
        await Client.Healthy(b);
    }

    /// <summary>The words of <paramref name="arguments"/>; EMPTY stands for "" and SPACED for a value with a space.</summary>
    private static string[] Words(string arguments) =>
        arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(w => w switch { "EMPTY" => "", "SPACED" => "a b", _ => w }).ToArray();

    private static async Task<(int Exit, string Output, string Error)> InProcess(string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var exit = await NodeCommand.InvokeAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }
}
