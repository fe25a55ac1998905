using Akka.Actor;
using Akka.Configuration;
using ClusterNode.Node;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Microsoft.Extensions.Logging;
using Xunit;

namespace ClusterNode.Tests.Hosting;

/// <summary>A message to no one (a stopped leg, a replaced incarnation) is routine on a node: its log must not fill up with them.</summary>
public sealed class DeadLetterLoggingSpec : IAsyncLifetime
{
    private readonly string _root = TestData.TempDirectory("dead-letters");
    private NodeHost? _node;

    [Fact]
    public async Task Dead_letters_log_one_single_line_event_and_then_only_a_count_later()
    {
        var log = new CapturedLog();
        using var loggerFactory = LoggerFactory.Create(logging => logging.AddProvider(log));
        _node = NodeHost.Start(ConfigurationFactory.ParseString($$"""
            cluster-node.data-dir = "{{_root.Replace("\\", "/")}}"
            akka.loglevel = INFO
            akka.remote.dot-netty.tcp.port = {{Loopback.FreePort()}}
            """), loggerFactory: loggerFactory);

        // Sent again until logged: Akka's dead-letter listener subscribes only once the ActorSystem's loggers have started.
        await Loopback.Eventually(() =>
        {
            for (var i = 0; i < 20; i++) _node.Runtime.System.DeadLetters.Tell($"dropped {i}");
            Assert.Contains(log.Entries, e => e.Message.Contains("was not delivered", StringComparison.Ordinal));
            return Task.CompletedTask;
        }, TimeSpan.FromSeconds(60));
        var deadLetters = log.Entries.Where(e => e.Message.Contains("was not delivered", StringComparison.Ordinal)).ToList();
        var first = Assert.Single(deadLetters);
        Assert.Equal(LogLevel.Information, first.Level);
        Assert.DoesNotContain('\n', first.Message);
        Assert.Contains("no more dead letters will be logged", first.Message); // the rest only as a count, later
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_node is not null) await _node.DisposeAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { /* best effort */ }
    }
}
