using System.Text.Json;

namespace ClusterNode.Node.Commands;

/// <summary><c>cluster-node status [--url URL]</c>: the node's peers, cursors and lag as a table.</summary>
public static class StatusCommand
{
    public static async Task<int> RunAsync(string[] options, TextWriter output, TextWriter error)
    {
        var (exit, url, status) = await CommandLine.ReadFromNode("status", "/status", options, error);
        if (exit is { } code) return code;

        output.WriteLine($"node {status.GetProperty("nodeId").GetString()} at {url}, last sequence {status.GetProperty("lastSequence").GetInt64()}");
        if (status.TryGetProperty("writesRefused", out var refused) && refused.ValueKind == JsonValueKind.String)
            output.WriteLine($"  WRITES REFUSED: {refused.GetString()}");
        foreach (var member in status.GetProperty("members").EnumerateArray())
            output.WriteLine($"  member {member.GetProperty("address").GetString()} {member.GetProperty("status").GetString()}{(member.GetProperty("reachable").GetBoolean() ? "" : " UNREACHABLE")}");
        var rows = status.GetProperty("peers").EnumerateArray().Select(peer => new[]
        {
            peer.GetProperty("peer").GetString() ?? "",
            peer.GetProperty("mode").GetString() ?? "",
            peer.GetProperty("committed").GetInt64().ToString(),
            peer.GetProperty("durable").GetInt64().ToString(),
            peer.GetProperty("persistedCursor").GetInt64().ToString(),
            peer.GetProperty("outstandingBlobs").GetInt64().ToString(),
            peer.GetProperty("blobGap").GetInt64().ToString(),
            peer.GetProperty("lag").GetInt64().ToString(),
        }).ToList();
        output.Write(CommandLine.Table(["peer", "mode", "committed", "durable", "persisted", "outstanding blobs", "gap", "lag"], rows));
        if (rows.Count == 0) output.WriteLine("  (no peers)");
        foreach (var peer in status.GetProperty("peers").EnumerateArray())
            if (peer.GetProperty("lastProblem").GetString() is { } problem)
                output.WriteLine($"  {peer.GetProperty("peer").GetString()}: last problem: {problem}");
        return 0;
    }
}
