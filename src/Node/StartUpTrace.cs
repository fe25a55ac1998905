namespace ClusterNode.Node;

/// <summary>
/// Where a node's start-up time goes, for the bench (bench/StartUp.cs): with CLUSTER_NODE_STARTUP_TRACE=1 each step
/// prints one line <c>cluster-node: start-up: STEP at UNIX-MS</c> to stderr, which the bench subtracts from the moment
/// it started the process. Off, a step costs one static bool test.
/// </summary>
internal static class StartUpTrace
{
    public static readonly bool Enabled = Environment.GetEnvironmentVariable("CLUSTER_NODE_STARTUP_TRACE") == "1";

    public static void Step(string step)
    {
        if (Enabled) Console.Error.WriteLine($"cluster-node: start-up: {step} at {DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()}");
    }
}
