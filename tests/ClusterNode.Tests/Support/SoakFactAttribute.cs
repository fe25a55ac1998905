using Xunit;

namespace ClusterNode.Tests.Support;

/// <summary>A long soak or stress test: runs only with CLUSTER_SOAK=1, so the default suite stays short.</summary>
public sealed class SoakFactAttribute : FactAttribute
{
    public SoakFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("CLUSTER_SOAK") != "1") Skip = "soak test: set CLUSTER_SOAK=1 to run it";
    }
}

/// <summary>The seed of a randomized test: CLUSTER_TEST_SEED replays one; otherwise a fresh one, always printed.</summary>
public static class TestSeed
{
    public static int Next() =>
        int.TryParse(Environment.GetEnvironmentVariable("CLUSTER_TEST_SEED"), out var seed) ? seed : Random.Shared.Next();
}
