using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Node.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ClusterNode.Node.Hosting;

/// <summary>
/// A cluster node as a hosted service of the generic host: started with the host (a <see cref="NodeHost"/>: the store
/// and the cluster member, its ActorSystem replaced in-process whenever the cluster removes it), and leaving the
/// cluster gracefully when the host stops. Akka's log and the node's own lines go to the host's logger factory.
/// Resolve it from the host's services to reach the node once started (<see cref="Started"/>, <see cref="Node"/>).
/// </summary>
public sealed class ClusterNodeService : IHostedService
{
    private readonly Config _config;
    private readonly Task<ILoggerFactory> _loggerFactory;
    private readonly HttpSettings? _httpApi;
    private readonly IReadOnlyList<string> _insecure;
    private HttpServer? _http;
    private readonly TaskCompletionSource<NodeHost> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _gate = new();
    private Task<NodeHost>? _starting;
    private NodeHost? _node;
    private int _stopped;

    public ClusterNodeService(Config config, ILoggerFactory loggerFactory) : this(config, Task.FromResult(loggerFactory), httpApi: null, insecure: [])
    {
    }

    /// <param name="loggerFactory">The run command makes its console logging while the node opens its store.</param>
    /// <param name="httpApi">Where to serve the node's HTTP API on a Kestrel of its own; null: not at all.</param>
    /// <param name="insecure">Exposures allowed by <c>cluster-node.allow-insecure</c> (<see cref="CheckConfiguration"/>), logged as warnings.</param>
    internal ClusterNodeService(Config config, Task<ILoggerFactory> loggerFactory, HttpSettings? httpApi, IReadOnlyList<string> insecure)
    {
        _config = config;
        _loggerFactory = loggerFactory;
        _httpApi = httpApi;
        _insecure = insecure;
    }

    /// <summary>
    /// What stops a node from starting before anything is opened, for <c>cluster-node run</c> and an embedded node alike:
    /// an unknown key under <c>cluster-node</c>, a bad HTTP setting, and an exposure the secure defaults refuse (no remoting
    /// beyond loopback without TLS, no API beyond it without tokens); each throws naming its key. Returns the HTTP settings
    /// and the exposures <c>cluster-node.allow-insecure</c> lets through.
    /// </summary>
    /// <param name="config">The node's own configuration, before any defaults.</param>
    internal static (HttpSettings Http, IReadOnlyList<string> Insecure) CheckConfiguration(Config config)
    {
        ConfigurationKeys.CheckKnown(config);
        var http = HttpSettings.Create(config.WithDefaults());
        return (http, SecureDefaults.Enforce(config, http));
    }

    /// <summary>Where the node's own HTTP API listens, once started, when <see cref="ClusterNodeOptions.ServeHttpApi"/> is on.</summary>
    public Uri? HttpUrl => Volatile.Read(ref _http)?.Url;

    /// <summary>Completes with the node once it has started (its first ActorSystem joining), or with the start-up's error.</summary>
    public Task<NodeHost> Started => _started.Task;

    /// <summary>The started node; its <see cref="NodeHost.Runtime"/> is the current incarnation.</summary>
    public NodeHost Node => Volatile.Read(ref _node) ?? throw new InvalidOperationException("the cluster node has not started yet");

    /// <summary>
    /// Starts the node on a pool thread, once however often it is called: <c>cluster-node run</c> calls it before the
    /// host is built, so the node starts while Kestrel is built (each takes a few hundred milliseconds), and the host's
    /// start then only waits for it.
    /// </summary>
    internal Task<NodeHost> BeginStart()
    {
        lock (_gate) return _starting ??= Task.Run(StartNode);
    }

    private NodeHost StartNode()
    {
        try
        {
            // A wait on a pool thread, outside any actor, for a factory made within the time the store takes to open.
            var node = NodeHost.Start(_config, onSystemStarted: null, loggerFactory: () => _loggerFactory.GetAwaiter().GetResult());
            var log = _loggerFactory.GetAwaiter().GetResult().CreateLogger(NodeLogging.Category);
            foreach (var exposure in _insecure) log.LogWarning("{Exposure} ({Key} = on)", exposure, SecureDefaults.AllowInsecureKey);
            node.Restarted += reason => log.LogWarning("{Reason}", reason);
            Volatile.Write(ref _node, node);
            _started.TrySetResult(node);
            return node;
        }
        catch (Exception e)
        {
            _started.TrySetException(e);
            throw;
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var node = await BeginStart().WaitAsync(cancellationToken);
        if (_httpApi is not null) Volatile.Write(ref _http, await HttpServer.StartAsync(() => node.Runtime, _httpApi));
    }

    /// <summary>Leaves the cluster (coordinated shutdown) and closes the store; Kestrel, started after the node, has stopped before.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return;
        Task<NodeHost>? starting;
        lock (_gate) starting = _starting;
        if (starting is null) return;
        NodeHost node;
        try
        {
            node = await starting;
        }
        catch (Exception)
        {
            return; // it never started: nothing to leave or close
        }
        // The API first: no request reaches a node that is leaving.
        if (Volatile.Read(ref _http) is { } http) await http.DisposeAsync();
        await node.DisposeAsync();
    }
}
