using System.Runtime.InteropServices;
using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Node.Http;

namespace ClusterNode.Node.Commands;

/// <summary>`cluster-node run`: a cluster member and its HTTP API until SIGINT or SIGTERM.</summary>
internal static class RunCommand
{
    private const int Usage = CommandLine.Usage;

    /// <param name="layers">--config FILE and --set path=value in the order given, later ones winning.</param>
    public static async Task<int> RunAsync(IReadOnlyList<(string Option, string Value)> layers)
    {
        Config config;
        HttpSettings httpSettings;
        IReadOnlyList<string> insecure;
        try
        {
            config = Load(layers);
            ConfigurationKeys.CheckKnown(config);
            httpSettings = HttpSettings.Create(config.WithDefaults());
            insecure = SecureDefaults.Enforce(config, httpSettings);
        }
        catch (Exception e) when (e is ArgumentException or IOException or ConfigurationException)
        {
            Console.Error.WriteLine($"cluster-node: {e.Message}");
            return Usage;
        }

        StartUpTrace.Step("config");
        foreach (var exposure in insecure) Console.Error.WriteLine($"cluster-node: warning: {exposure} ({SecureDefaults.AllowInsecureKey} = on)");

        // Kestrel is built on another thread while this one starts the node: each takes a few hundred milliseconds.
        var nodeStarted = new TaskCompletionSource<Func<NodeRuntime>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var httpStarting = Task.Run(() => HttpServer.StartAsync(nodeStarted.Task, httpSettings));
        NodeHost node;
        try
        {
            node = NodeHost.Start(config);
            StartUpTrace.Step("node");
        }
        catch (Exception e)
        {
            nodeStarted.SetCanceled();
            try { await httpStarting; } catch (Exception) { /* stopped for want of a node; the node's error is the one to report */ }
            Console.Error.WriteLine($"cluster-node: cannot start: {StartFailure(e)}");
            return Usage;
        }
        nodeStarted.SetResult(() => node.Runtime);

        HttpServer http;
        try
        {
            http = await httpStarting;
            StartUpTrace.Step("http");
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"cluster-node: cannot start the HTTP API (cluster-node.http.host / cluster-node.http.port): {e.Message}");
            await node.DisposeAsync();
            return Usage;
        }

        var stop = new TaskCompletionSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; stop.TrySetResult(); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; stop.TrySetResult(); });
        node.Restarted += reason => Console.Error.WriteLine($"cluster-node: {reason}");
        var runtime = node.Runtime;
        Console.WriteLine($"cluster-node {runtime.Store.NodeId} at {runtime.Address}, HTTP on {http.Url}, data in {Path.GetFullPath(runtime.Settings.DataDirectory)}; Ctrl-C leaves the cluster and stops it");
        // Only a signal ends the process: a lost connection, a partition or a quarantine is ridden out in-process.
        await stop.Task;
        await http.DisposeAsync();
        await node.DisposeAsync();
        Console.WriteLine("cluster-node stopped");
        return 0;
    }

    /// <summary>One line that names what stopped start-up: the key, the file or the port, not a stack trace.</summary>
    private static string StartFailure(Exception error)
    {
        var chain = new List<Exception>();
        for (var e = error; e is not null; e = e.InnerException) chain.Add(e);
        chain.AddRange(chain.OfType<AggregateException>().SelectMany(a => a.Flatten().InnerExceptions).ToList());
        if (chain.OfType<System.Net.Sockets.SocketException>().Any(s => s.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse))
            return "akka.remote.dot-netty.tcp.hostname/port: the address is already in use";
        if (chain.OfType<ConfigurationException>().FirstOrDefault() is { } config) return config.Message;
        return chain.Last(e => e is not AggregateException).Message;
    }

    /// <summary>--config files and --set lines in order, later ones winning, over a single cluster member on loopback.</summary>
    private static Config Load(IReadOnlyList<(string Option, string Value)> layers)
    {
        // Not NodeHost.ClusterDefaults itself: the host puts those under whatever this returns.
        var config = Config.Empty;
        foreach (var (option, value) in layers)
        {
            var layer = option == "--config"
                ? File.Exists(value)
                    ? ConfigurationFactory.ParseString(File.ReadAllText(value))
                    : throw new ArgumentException($"config file '{value}' does not exist")
                : ConfigurationFactory.ParseString(value);
            config = layer.WithFallback(config);
        }
        return config;
    }
}
