using System.Runtime.InteropServices;
using Akka.Configuration;
using ClusterNode.Actors;

// cluster-node's host. This first version runs one node's replication runtime (record store, blob files,
// replication hub, Akka.Remote) on HOCON files and --set overrides over the embedded defaults; cluster membership,
// the HTTP API and the status and verify commands come with the next issue.
return await NodeCommand.RunAsync(args);

internal static class NodeCommand
{
    private const int Usage = 2;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] != "run")
        {
            Console.Error.WriteLine("usage: cluster-node run [--config FILE]... [--set path=value]...");
            return Usage;
        }

        Config config;
        try
        {
            config = Load(args[1..]);
        }
        catch (Exception e) when (e is ArgumentException or IOException or ConfigurationException)
        {
            Console.Error.WriteLine($"cluster-node: {e.Message}");
            return Usage;
        }

        NodeRuntime node;
        try
        {
            node = NodeRuntime.Start(config);
        }
        catch (Exception e) when (e is ConfigurationException or IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException)
        {
            Console.Error.WriteLine($"cluster-node: cannot start: {e.Message}");
            return Usage;
        }

        var stop = new TaskCompletionSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.TrySetResult(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.TrySetResult(); });
        Console.WriteLine($"cluster-node {node.Store.NodeId} at {node.Address}, data in {Path.GetFullPath(node.Settings.DataDirectory)}; Ctrl-C stops it");
        await stop.Task;
        await node.DisposeAsync();
        Console.WriteLine("cluster-node stopped");
        return 0;
    }

    /// <summary>--config files and --set lines in order, later ones winning, over a single node on loopback.</summary>
    private static Config Load(string[] options)
    {
        var config = ConfigurationFactory.ParseString("""
            akka.actor.provider = remote
            akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 4053 }
            """);
        for (var i = 0; i < options.Length; i++)
        {
            var value = i + 1 < options.Length ? options[i + 1] : throw new ArgumentException($"{options[i]} needs a value");
            Config layer = options[i] switch
            {
                "--config" => File.Exists(value)
                    ? ConfigurationFactory.ParseString(File.ReadAllText(value))
                    : throw new ArgumentException($"config file '{value}' does not exist"),
                "--set" => ConfigurationFactory.ParseString(value),
                _ => throw new ArgumentException($"unknown option '{options[i]}'"),
            };
            config = layer.WithFallback(config);
            i++;
        }
        return config;
    }
}
