using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ClusterNode.Tests.Support;
using Xunit;

namespace ClusterNode.Tests.EndToEnd;

/// <summary>What tests of real node processes ask a node over HTTP.</summary>
public static class NodeApi
{
    /// <summary>Waits until the node answers 200 on /health (an Up cluster member).</summary>
    public static async Task Healthy(this HttpClient client, NodeProcess node, TimeSpan? within = null) =>
        await Loopback.Eventually(async () => Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri(node.Url, "health"))).StatusCode), within);

    public static async Task<JsonElement> Status(this HttpClient client, NodeProcess node) =>
        await client.GetFromJsonAsync<JsonElement>(new Uri(node.Url, "status"));

    public static async Task<string> NodeId(this HttpClient client, NodeProcess node) =>
        (await client.Status(node)).GetProperty("nodeId").GetString()!;

    /// <summary>The members a node's /status lists as Up and reachable from it, by address.</summary>
    public static IReadOnlyList<string> UpMembers(JsonElement status) =>
        status.GetProperty("members").EnumerateArray()
            .Where(m => m.GetProperty("status").GetString() == "Up" && !(m.TryGetProperty("reachable", out var r) && r.ValueKind == JsonValueKind.False))
            .Select(m => m.GetProperty("address").GetString()!).ToList();

    public static long? PersistedCursorFor(JsonElement status, string peer) =>
        status.GetProperty("peers").EnumerateArray().Where(p => p.GetProperty("peer").GetString() == peer)
            .Select(p => (long?)p.GetProperty("persistedCursor").GetInt64()).FirstOrDefault();

    public static StringContent Json(string json) => new(json, System.Text.Encoding.UTF8, "application/json");
}

/// <summary>The cluster-node command line (status, verify, a bad run) as a child process, as an operator runs it.</summary>
public static class NodeCli
{
    public sealed record Result(int ExitCode, string Output, string Error)
    {
        public override string ToString() => $"exit {ExitCode}\n{Output}{Error}";
    }

    public static Task<Result> RunAsync(params string[] args) => RunAsync(new Dictionary<string, string?>(), args);

    /// <param name="environment">Variables set for the command (a null value: removed).</param>
    public static Task<Result> RunAsync(IReadOnlyDictionary<string, string?> environment, params string[] args) =>
        RunAsync(environment, Timeout.InfiniteTimeSpan, args);

    /// <param name="within">A command still running then is killed, and its result is exit -1 (for a `run` that should
    /// have refused to start: the test then fails instead of waiting for ever).</param>
    public static async Task<Result> RunAsync(IReadOnlyDictionary<string, string?> environment, TimeSpan within, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (name, value) in environment)
            if (value is null) info.Environment.Remove(name);
            else info.Environment[name] = value;
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "cluster-node.dll"));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(within);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            return new Result(-1, await stdout, await stderr + $"\n(still running after {within}: killed)");
        }
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>The arguments of <c>verify</c> for these nodes.</summary>
    public static string[] Verify(IEnumerable<NodeProcess> nodes) => ["verify", .. nodes.SelectMany(n => new[] { "--url", n.Url.ToString() })];
}
