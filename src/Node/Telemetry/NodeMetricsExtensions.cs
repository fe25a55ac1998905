using System.Diagnostics;
using ClusterNode.Actors;
using ClusterNode.Actors.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace ClusterNode.Node.Telemetry;

/// <summary>
/// The node's metrics (<see cref="NodeMetrics"/>, meter <c>ClusterNode</c>) through OpenTelemetry: <c>GET /metrics</c> in
/// Prometheus text, and OTLP when <c>cluster-node.telemetry.otlp.endpoint</c> is set; plus the latency of every write as
/// its client sees it. <c>/metrics</c> is behind the API's authentication like every route but <c>/health*</c> (a GET:
/// a read token will do): it names the node's peers and how much data flows, which is not for anyone on the network.
/// </summary>
public static class NodeMetricsExtensions
{
    public static void AddNodeMetrics(this IServiceCollection services, TelemetrySettings settings) =>
        services.AddOpenTelemetry().ConfigureResource(resource => resource.AddService("cluster-node")).WithMetrics(metrics =>
        {
            metrics.AddMeter(NodeMetrics.MeterName).AddPrometheusExporter();
            if (settings.OtlpEndpoint is { } endpoint)
                metrics.AddOtlpExporter((exporter, reader) =>
                {
                    exporter.Endpoint = endpoint;
                    exporter.Protocol = settings.OtlpProtocol == OtlpProtocol.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
                    reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)settings.OtlpExportInterval.TotalMilliseconds;
                });
        });

    /// <summary>Maps <c>/metrics</c>, and times every write (PUT, POST, DELETE under /tables) of the node <paramref name="current"/> gives.</summary>
    public static void MapNodeMetrics(this WebApplication app, Func<NodeRuntime> current)
    {
        app.Use(async (context, next) =>
        {
            var request = context.Request;
            if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || !request.Path.StartsWithSegments("/tables"))
            {
                await next(context);
                return;
            }
            var started = Stopwatch.GetTimestamp();
            var succeeded = false;
            try
            {
                await next(context);
                succeeded = context.Response.StatusCode is >= 200 and < 300;
            }
            finally
            {
                current().Metrics.RecordWrite(Stopwatch.GetElapsedTime(started).TotalSeconds, request.Method, succeeded);
            }
        });
        app.MapPrometheusScrapingEndpoint();
    }
}
