using System.Text.Json;
using Akka.Cluster;
using ClusterNode.Actors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ClusterNode.Node.Http;

/// <summary>
/// <c>/health/live</c> (the process serves HTTP: no check) and <c>/health/ready</c> (an Up cluster member with its
/// store open) on ASP.NET Core's health checks, answered as JSON naming each check; <c>/health</c> stays in
/// <see cref="HttpApi"/>. Open without a token, as every <c>/health*</c> is.
/// </summary>
internal static class HealthEndpoints
{
    private const string Ready = "ready";

    /// <summary>Registers the readiness checks over the node that <paramref name="current"/> gives once it has started.</summary>
    public static void AddNodeHealthChecks(this IServiceCollection services, Func<Func<NodeRuntime>?> current) =>
        services.AddHealthChecks()
            .AddCheck("member", () => current() is { } node ? Member(node()) : HealthCheckResult.Unhealthy("the node is starting"), [Ready])
            .AddCheck("store", () => current() is { } node ? Store(node()) : HealthCheckResult.Unhealthy("the node is starting"), [Ready]);

    public static void MapNodeHealth(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteJson });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(Ready), ResponseWriter = WriteJson });
    }

    private static HealthCheckResult Member(NodeRuntime node)
    {
        var status = Cluster.Get(node.System).SelfMember.Status;
        return status == MemberStatus.Up ? HealthCheckResult.Healthy("an Up cluster member") : HealthCheckResult.Unhealthy($"not an Up cluster member yet ({status})");
    }

    private static HealthCheckResult Store(NodeRuntime node)
    {
        try
        {
            _ = node.Store.FirstRetainedSequence; // a read transaction: the LMDB environment answers
            return HealthCheckResult.Healthy("LMDB open");
        }
        catch (Exception e) when (e is ObjectDisposedException or LightningDB.LightningException)
        {
            return HealthCheckResult.Unhealthy($"the record store does not answer: {e.Message}");
        }
    }

    private static Task WriteJson(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            status = report.Status.ToString().ToLowerInvariant(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString().ToLowerInvariant(), description = e.Value.Description }),
        }));
    }
}
