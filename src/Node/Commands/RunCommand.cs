using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Node.Hosting;
using ClusterNode.Node.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ClusterNode.Node.Commands;

/// <summary>
/// `cluster-node run`: a cluster member and its HTTP API until SIGINT or SIGTERM, on the generic host (a WebApplication:
/// Kestrel, and the node as a hosted service, <see cref="ClusterNodeServiceCollectionExtensions.AddClusterNode(IServiceCollection, Action{ClusterNodeOptions})"/>).
/// </summary>
internal static class RunCommand
{
    private const int Usage = CommandLine.Usage;

    /// <param name="layers">--config FILE and --set path=value in the order given, later ones winning.</param>
    public static async Task<int> RunAsync(IReadOnlyList<(string Option, string Value)> layers)
    {
        Config config;
        HttpSettings httpSettings;
        IReadOnlyList<string> insecure;
        LogFormat logFormat;
        try
        {
            config = Load(layers);
            (httpSettings, insecure) = ClusterNodeService.CheckConfiguration(config);
            logFormat = NodeLogging.Format(config);
        }
        catch (Exception e) when (e is ArgumentException or IOException or ConfigurationException)
        {
            Console.Error.WriteLine($"cluster-node: {e.Message}");
            return Usage;
        }

        StartUpTrace.Step("config");
        // The node starts on a pool thread while this one makes the logging and builds the host and Kestrel: each takes a few
        // hundred milliseconds. One logger factory for the node (Akka's log bridged into it) and the host; the node asks
        // for it only once its store is open.
        var loggerFactoryMade = new TaskCompletionSource<ILoggerFactory>(TaskCreationOptions.RunContinuationsAsynchronously);
        var service = new ClusterNodeService(config, loggerFactoryMade.Task, httpApi: null, insecure); // run serves the API itself
        var nodeStarting = service.BeginStart();
        ILoggerFactory loggerFactory;
        try
        {
            loggerFactory = LoggerFactory.Create(logging => logging.AddNodeConsole(logFormat));
        }
        catch (Exception e)
        {
            loggerFactoryMade.SetException(e);
            throw;
        }
        loggerFactoryMade.SetResult(loggerFactory);
        using var disposeLogging = loggerFactory; // last: flushes the console once the node has stopped
        StartUpTrace.Step("logging");
        var log = loggerFactory.CreateLogger(NodeLogging.Category);
        // Also the first use of the console logging, on this thread while the node opens its store, not on Akka's logger's.
        log.LogInformation("starting, data in {DataDirectory}", Path.GetFullPath(config.WithDefaults().GetString("cluster-node.data-dir")));

        var builder = HttpServer.CreateBuilder(httpSettings);
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.Configure<ConsoleLifetimeOptions>(lifetime => lifetime.SuppressStatusMessages = true);
        // A graceful leave can outlast the host's default 30 s when peers are unreachable.
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromMinutes(2));
        builder.Services.AddClusterNode(service);
        await using var app = builder.Build();
        NodeHost node;
        try
        {
            node = await nodeStarting;
            StartUpTrace.Step("node");
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"cluster-node: cannot start: {StartFailure(e)}");
            return Usage;
        }

        HttpServer.MapApi(app, () => node.Runtime, httpSettings);
        try
        {
            // The host's start: the node's hosted service (started already), then Kestrel. SIGINT and SIGTERM stop it.
            await app.StartAsync();
            StartUpTrace.Step("http");
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"cluster-node: cannot start the HTTP API (cluster-node.http.host / cluster-node.http.port): {e.Message}");
            await service.StopAsync(CancellationToken.None);
            return Usage;
        }

        var runtime = node.Runtime;
        Console.WriteLine($"cluster-node {runtime.Store.NodeId} at {runtime.Address}, HTTP on {HttpServer.BoundUrl(app)}, data in {Path.GetFullPath(runtime.Settings.DataDirectory)}; Ctrl-C leaves the cluster and stops it");
        // Only a signal ends the process: a lost connection, a partition or a quarantine is ridden out in-process.
        // Then the host stops Kestrel, and the node leaves the cluster and closes LMDB.
        await app.WaitForShutdownAsync();
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
