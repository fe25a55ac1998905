using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.Http.Json;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Actors.Replication;
using ClusterNode.Actors.Security;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;
using static ClusterNode.Tests.EndToEnd.NodeApi;

namespace ClusterNode.Tests.EndToEnd;

/// <summary>
/// Mutual TLS between real node processes, with certificates made by the real <c>cluster-node cert</c> commands: a
/// secured cluster forms and replicates; a node with a certificate from another CA and a node with TLS off are refused
/// at the handshake, become no member, receive no byte, and change nothing.
/// </summary>
public sealed class TlsSpec : NodeProcessSpec
{
    private const int BlobBytes = 50 * 1024;

    public TlsSpec(ITestOutputHelper output) : base("tls", output, TimeSpan.FromSeconds(30)) { }

    [Fact]
    public async Task A_secured_cluster_replicates_and_neither_a_foreign_CA_node_nor_a_plaintext_node_joins_or_gets_a_byte()
    {
        var ca = await Cert("create-ca", "--out", Dir("ca"));
        await Cert("create-node", "--ca", ca, "--name", "node1", "--out", Dir("node1"));
        await Cert("create-node", "--ca", ca, "--name", "node2", "--out", Dir("node2"));
        var otherCa = await Cert("create-ca", "--out", Dir("other-ca"));
        await Cert("create-node", "--ca", otherCa, "--name", "node1", "--out", Dir("rogue")); // even the same name

        var aPort = Loopback.FreePort();
        var a = Start("a", "hocon/local/node1.conf", aPort, aPort, Tls("node1"));
        var b = Start("b", "hocon/local/node2.conf", Loopback.FreePort(), aPort, Tls("node2"));
        await Client.Healthy(a);
        await Client.Healthy(b);
        var cluster = new[] { $"akka.ssl.tcp://cluster-node@127.0.0.1:{a.AkkaPort}", $"akka.ssl.tcp://cluster-node@127.0.0.1:{b.AkkaPort}" }.Order().ToArray();
        foreach (var node in new[] { a, b })
            await Loopback.Eventually(async () => Assert.Equal(cluster, UpMembers(await Client.Status(node)).Order().ToArray()));

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(new Uri(a.Url, $"tables/photos/records/{TestData.Id(i)}"), Json($$"""{"n":{{i}}}"""))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(new Uri(a.Url, $"tables/photos/records/{TestData.Id(i)}/blobs/image"), new ByteArrayContent(TestData.Blob(i, BlobBytes)))).StatusCode);
        }
        var lastOfA = (await Client.Status(a)).GetProperty("lastSequence").GetInt64();
        var aId = await Client.NodeId(a);
        await Loopback.Eventually(async () => Assert.Equal(lastOfA, PersistedCursorFor(await Client.Status(b), aId)));
        Assert.Equal(0, (await NodeCli.RunAsync(NodeCli.Verify([a, b]))).ExitCode);
        var digestBefore = await Client.GetStringAsync(new Uri(a.Url, "tables/photos/digest"));

        // Both outsiders name the secured seed, and hold a record of their own that replication would spread.
        var aLog = a.Launch.LogFile!;
        var rogue = Start("rogue", "hocon/local/node3.conf", Loopback.FreePort(), aPort, Tls("rogue"));
        var plain = Start("plain", "hocon/local/node3.conf", Loopback.FreePort(), aPort);
        foreach (var outsider in new[] { rogue, plain })
            await Loopback.Eventually(async () => Assert.Equal(HttpStatusCode.OK,
                (await Client.PutAsync(new Uri(outsider.Url, $"tables/photos/records/{TestData.Id(0)}"), Json("""{"n":"overwritten"}"""))).StatusCode));

        // A refuses each outsider at the handshake, logging the peer's address, and again after its next join attempt.
        static int Count(string log, string text) => Lines(log).Count(line => line.Contains(text, StringComparison.Ordinal));
        const string refusedRogue = "TLS: refused peer [::ffff:127.0.0.1]:";
        const string refusedPlain = "not an SSL/TLS record";
        await Loopback.Eventually(() => { Assert.True(Count(aLog, refusedRogue) > 0 && Count(aLog, refusedPlain) > 0); return Task.CompletedTask; });
        var (rogueRefusals, plainRefusals) = (Count(aLog, refusedRogue), Count(aLog, refusedPlain));
        Assert.Contains(Lines(aLog), line => line.Contains(refusedRogue) && line.Contains("'CN=node1'") && line.Contains("does not chain to the cluster CA"));
        await Loopback.Eventually(() =>
        {
            Assert.True(Count(aLog, refusedRogue) > rogueRefusals && Count(aLog, refusedPlain) > plainRefusals, "A saw no second attempt of each outsider");
            return Task.CompletedTask;
        });

        foreach (var node in new[] { a, b })
        {
            var members = (await Client.GetFromJsonAsync<JsonElement>(new Uri(node.Url, "members"))).EnumerateArray().Select(m => m.GetProperty("address").GetString()!).Order().ToArray();
            Assert.Equal(cluster, members);
            Assert.Equal(digestBefore, await Client.GetStringAsync(new Uri(node.Url, "tables/photos/digest")));
            var record = await Client.GetFromJsonAsync<JsonElement>(new Uri(node.Url, $"tables/photos/records/{TestData.Id(0)}"));
            Assert.Equal(0, record.GetProperty("data").GetProperty("n").GetInt32());
        }
        foreach (var outsider in new[] { rogue, plain })
        {
            Assert.False(outsider.HasExited, $"{outsider.Name} exited");
            // Eventually only because the rogue's own Akka shuts its ActorSystem down after each failed outbound handshake
            // (Akka.Remote 1.5.74 fails fast there), so it may answer 503 while its host starts the next one.
            await Loopback.Eventually(async () =>
            {
                var seen = (await Client.GetFromJsonAsync<JsonElement>(new Uri(outsider.Url, "members"))).EnumerateArray().Select(m => m.GetProperty("address").GetString()!).ToList();
                Assert.DoesNotContain(seen, cluster.Contains);
            });
            // Its store (read directly, whatever its ActorSystem does) holds its own record and not one of A's.
            var own = await Client.GetFromJsonAsync<JsonElement>(new Uri(outsider.Url, $"tables/photos/records/{TestData.Id(0)}"));
            Assert.Equal("overwritten", own.GetProperty("data").GetProperty("n").GetString());
            Assert.Empty(own.GetProperty("blobs").EnumerateObject());
            for (var i = 1; i < 20; i++)
                Assert.Equal(HttpStatusCode.NotFound, (await Client.GetAsync(new Uri(outsider.Url, $"tables/photos/records/{TestData.Id(i)}"))).StatusCode);
            Assert.Equal(["photos"], (await Client.GetFromJsonAsync<string[]>(new Uri(outsider.Url, "tables")))!);
        }
        Assert.Equal(0, (await NodeCli.RunAsync(NodeCli.Verify([a, b]))).ExitCode);
    }

    [Fact]
    public async Task Raw_bytes_and_forged_subscriptions_at_a_secured_members_port_get_nothing_and_change_nothing()
    {
        var ca = await Cert("create-ca", "--out", Dir("ca"));
        await Cert("create-node", "--ca", ca, "--name", "node1", "--out", Dir("node1"));
        // A certificate of the cluster's own CA on a host that is no member (stolen, or issued for another purpose).
        await Cert("create-node", "--ca", ca, "--name", "intruder", "--out", Dir("intruder"));
        var otherCa = await Cert("create-ca", "--out", Dir("other-ca"));
        await Cert("create-node", "--ca", otherCa, "--name", "node1", "--out", Dir("rogue"));
        var aPort = Loopback.FreePort();
        var a = Start("a", "hocon/local/node1.conf", aPort, aPort, Tls("node1"));
        await Client.Healthy(a);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(new Uri(a.Url, $"tables/photos/records/{TestData.Id(i)}"), Json($$"""{"n":{{i}}}"""))).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await Client.PutAsync(new Uri(a.Url, $"tables/photos/records/{TestData.Id(i)}/blobs/image"), new ByteArrayContent(TestData.Blob(i, BlobBytes)))).StatusCode);
        }
        var digestBefore = await Client.GetStringAsync(new Uri(a.Url, "tables/photos/digest"));

        // Raw bytes: something like Akka's plaintext handshake, then noise. A closes the connection, having sent at
        // most a TLS alert.
        var answer = await SpeakRawBytes(aPort, [.. "akka.tcp://cluster-node@127.0.0.1:1/user/replication"u8, .. TestData.Blob(1, 64 * 1024)]);
        Assert.True(answer.Length < 64, $"A answered raw bytes with {answer.Length} bytes");
        Assert.DoesNotContain("photos", System.Text.Encoding.Latin1.GetString(answer));

        // A forged Subscribe over TLS, from a certificate of another CA and from one of the cluster's own CA.
        var hubOfA = $"akka.ssl.tcp://cluster-node@127.0.0.1:{aPort}/user/{ReplicationHub.Name}";
        foreach (var certificates in new[] { "rogue", "intruder" })
        {
            var config = ConfigurationFactory.ParseString($$"""
                akka.actor.provider = remote
                akka.loglevel = WARNING
                akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
                {{Tls(certificates)}}
                """).WithDefaults();
            var forger = ActorSystem.Create("cluster-node", TlsSettings.Create(config).Setup(config));
            try
            {
                var received = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
                var receiver = forger.ActorOf(Props.Create(() => new FirstMessageButARefusal(received)));
                // The intruder's handshake succeeds (A's hub answers Identify): the refusal below is the hub's own.
                if (certificates == "intruder")
                    Assert.NotNull((await forger.ActorSelection(hubOfA).Ask<ActorIdentity>(new Identify(1), TimeSpan.FromSeconds(20))).Subject);
                forger.ActorSelection(hubOfA).Tell(new Subscribe("forger", 1, 1, 1 << 20, receiver), receiver);
                // Timed by the test itself: an Inbox's timeout never fired once the rogue's association had failed.
                var first = await Task.WhenAny(received.Task, Task.Delay(TimeSpan.FromSeconds(5)));
                Assert.False(first == received.Task, $"the {certificates} forger received {(first == received.Task ? await received.Task : null)}");
            }
            finally
            {
                await forger.Terminate();
            }
        }
        var aLog = a.Launch.LogFile!;
        await Loopback.Eventually(() =>
        {
            Assert.Contains(Lines(aLog), line => line.Contains("refused subscription from akka.ssl.tcp://cluster-node@127.0.0.1:", StringComparison.Ordinal)
                                                 && line.Contains("not a member", StringComparison.Ordinal));
            return Task.CompletedTask;
        });
        Assert.Equal(digestBefore, await Client.GetStringAsync(new Uri(a.Url, "tables/photos/digest")));
        Assert.Equal([$"akka.ssl.tcp://cluster-node@127.0.0.1:{aPort}"], UpMembers(await Client.Status(a)));
        await Client.Healthy(a);
    }

    /// <summary>Completes its task with the first message it gets.</summary>
    /// <summary>A forger may hear that its Subscribe was refused (the hub says so to its sender), and nothing else.</summary>
    private sealed class FirstMessageButARefusal : ReceiveActor
    {
        public FirstMessageButARefusal(TaskCompletionSource<object> received) => ReceiveAny(message =>
        {
            if (message is not SubscribeRefused) received.TrySetResult(message);
        });
    }

    /// <summary>Sends <paramref name="bytes"/> to a port and returns all it answers until it closes the connection (within 30 s).</summary>
    private static async Task<byte[]> SpeakRawBytes(int port, byte[] bytes)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        var stream = tcp.GetStream();
        try { await stream.WriteAsync(bytes); }
        catch (IOException) { /* closed while still being written to: that is the refusal */ }
        using var within = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, within.Token)) > 0) answer.Write(buffer, 0, read);
        }
        catch (IOException) { /* reset by A */ }
        catch (OperationCanceledException) { Assert.Fail("A kept a connection of raw bytes open for 30 s"); }
        return answer.ToArray();
    }

    [Theory]
    [InlineData("no-ca", "cluster-node.tls.ca")]
    [InlineData("missing-ca", "cluster-node.tls.ca")]
    [InlineData("missing-certificate", "cluster-node.tls.certificate")]
    [InlineData("certificate-of-another-ca", "cluster-node.tls.certificate")]
    [InlineData("wrong-password", "cluster-node.tls.certificate")]
    public async Task Bad_TLS_settings_stop_start_up_with_one_line_naming_the_key_and_exit_code_2(string problem, string named)
    {
        var ca = await Cert("create-ca", "--out", Dir("ca"));
        await Cert("create-node", "--ca", ca, "--name", "node1", "--out", Dir("node1"));
        var otherCa = await Cert("create-ca", "--out", Dir("other-ca"));
        await Cert("create-node", "--ca", otherCa, "--name", "node1", "--out", Dir("rogue"));
        var tls = problem switch
        {
            "no-ca" => $"cluster-node.tls {{ enabled = on, certificate = \"{Dir("node1")}/node.pfx\" }}",
            "missing-ca" => $"cluster-node.tls {{ enabled = on, ca = \"{Dir("nowhere")}/ca.crt\", certificate = \"{Dir("node1")}/node.pfx\" }}",
            "missing-certificate" => $"cluster-node.tls {{ enabled = on, ca = \"{ca}/ca.crt\", certificate = \"{Dir("nowhere")}/node.pfx\" }}",
            "certificate-of-another-ca" => $"cluster-node.tls {{ enabled = on, ca = \"{ca}/ca.crt\", certificate = \"{Dir("rogue")}/node.pfx\" }}",
            _ => $"cluster-node.tls {{ enabled = on, ca = \"{ca}/ca.crt\", certificate = \"{Dir("node1")}/node.pfx\", certificate-password = \"guess\" }}",
        };
        var (exitCode, error) = await RunBounded("run", "--set", $"cluster-node.data-dir = \"{Dir(problem)}\"",
            "--set", $"akka.remote.dot-netty.tcp.port = {Loopback.FreePort()}", "--set", $"cluster-node.http.port = {Loopback.FreePort()}", "--set", tls);
        Assert.Equal(2, exitCode);
        var lines = error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("cluster-node:", StringComparison.Ordinal)).ToList();
        Assert.Single(lines);
        Assert.Contains(named, lines[0]);
    }

    /// <summary>The lines of a log the node process is still appending to.</summary>
    private static List<string> Lines(string log)
    {
        using var reader = new StreamReader(new FileStream(log, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete));
        var lines = new List<string>();
        while (reader.ReadLine() is { } line) lines.Add(line);
        return lines;
    }

    private string Dir(string name) => Path.Combine(Root, name).Replace("\\", "/");

    private string Tls(string certificates) =>
        $"cluster-node.tls {{ enabled = on, ca = \"{Dir(certificates)}/ca.crt\", certificate = \"{Dir(certificates)}/node.pfx\" }}";

    /// <summary>Runs a <c>cluster-node cert</c> command that must succeed; returns its --out directory.</summary>
    private static async Task<string> Cert(params string[] args)
    {
        var result = await NodeCli.RunAsync(["cert", .. args]);
        Assert.True(result.ExitCode == 0, result.ToString());
        return args[Array.IndexOf(args, "--out") + 1];
    }

    /// <summary>A node process that must stop on its own; killed after 60 s so that a node which starts anyway fails the test instead of hanging it.</summary>
    private static async Task<(int ExitCode, string Error)> RunBounded(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "cluster-node.dll"));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try { await process.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            Assert.Fail($"the node started instead of refusing its settings: {await stdout}");
        }
        await stdout;
        return (process.ExitCode, await stderr);
    }

    private NodeProcess Start(string name, string hocon, int akkaPort, int seedPort, params string[] settings)
    {
        var launch = new NodeLaunch(name, hocon, Path.Combine(Root, "data-" + name), akkaPort, Loopback.FreePort(), [seedPort])
        {
            Settings = settings,
            LogFile = Path.Combine(Root, name + ".log"),
            // The outsiders' refusals repeat every join attempt: the log file keeps them, the test output the rest.
            Echo = line => !line.Contains("TLS", StringComparison.Ordinal) || line.Contains("refused", StringComparison.Ordinal),
        };
        var node = NodeProcess.Start(launch, Output);
        Nodes.Add(node);
        return node;
    }
}
