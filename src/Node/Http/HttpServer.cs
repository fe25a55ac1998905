using System.Net;
using ClusterNode.Actors;
using ClusterNode.Node.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ClusterNode.Node.Http;

/// <summary>
/// The node's HTTP API on Kestrel, bound to <c>cluster-node.http.host</c>/<c>port</c> (0: any free port), over TLS with
/// the node's certificate when <c>https = on</c>, every request but /health authenticated when tokens are configured.
/// </summary>
public sealed class HttpServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HttpServer(WebApplication app, Uri url)
    {
        _app = app;
        Url = url;
    }

    public Uri Url { get; }

    public static Task<HttpServer> StartAsync(Func<NodeRuntime> node, HttpSettings settings) => StartAsync(Task.FromResult(node), settings);

    /// <summary>
    /// Builds Kestrel and the API's pipeline while the node is still starting (the two take about as long, and a
    /// node's start-up waits for both), then maps the routes once <paramref name="node"/> has started.
    /// </summary>
    public static async Task<HttpServer> StartAsync(Task<Func<NodeRuntime>> node, HttpSettings settings)
    {
        var app = CreateBuilder(settings).Build();
        try
        {
            MapApi(app, await node, settings);
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync(); // the node did not start, or the port is taken
            throw;
        }
        return new HttpServer(app, BoundUrl(app));
    }

    /// <summary>
    /// A web application builder with Kestrel bound as <paramref name="settings"/> say and the API's services; the
    /// caller adds its own (logging, the node itself) before building it, then maps the API with <see cref="MapApi"/>.
    /// </summary>
    public static WebApplicationBuilder CreateBuilder(HttpSettings settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // The API enforces record.max-size and blob.max-size itself while streaming; Kestrel's own 30 MB
            // default would refuse a large blob before it is read.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Listen(IPAddress.TryParse(settings.Host, out var address) ? address : IPAddress.Loopback, settings.Port, listen =>
            {
                if (settings.Certificate is { } certificate) listen.UseHttps(certificate);
            });
        });
        var current = new CurrentNode(); // set by MapApi; no request is served before
        builder.Services.AddSingleton(current);
        builder.Services.AddNodeHealthChecks(() => current.Get);
        builder.Services.AddNodeMetrics(settings.Telemetry);
        return builder;
    }

    /// <summary>The API's middleware and routes over the started node (<paramref name="node"/>: its current incarnation).</summary>
    public static void MapApi(WebApplication app, Func<NodeRuntime> node, HttpSettings settings)
    {
        if (StartUpTrace.Enabled) TraceFirstRequest(app);
        app.Use(new ApiAuthentication(settings.Tokens).InvokeAsync);
        app.Services.GetRequiredService<CurrentNode>().Get = node;
        HttpApi.Map(app, node, settings);
        app.MapNodeHealth();
        app.MapNodeMetrics(node);
    }

    /// <summary>The address Kestrel listens on, once started (the port is chosen at start when settings say 0).</summary>
    public static Uri BoundUrl(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    private sealed class CurrentNode
    {
        public Func<NodeRuntime>? Get;
    }

    /// <summary>The bench's view of the first request: when it passed routing (built then) and when it was answered.</summary>
    private static void TraceFirstRequest(WebApplication app)
    {
        var traced = 0;
        app.Use(async (context, next) =>
        {
            var first = Interlocked.Exchange(ref traced, 1) == 0;
            if (first) StartUpTrace.Step("first-request");
            await next(context);
            if (first) StartUpTrace.Step("first-response");
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
