using Xunit.Abstractions;

namespace ClusterNode.Persistence.Tests;

/// <summary>A directory of its own for one test, deleted with everything in it when the test is done.</summary>
public sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix = "cn-test")
    {
        FullPath = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(FullPath);
    }

    public string FullPath { get; }

    public string Combine(params string[] parts) => Path.Combine([FullPath, .. parts]);

    public void Dispose()
    {
        // A leftover directory must not fail the test that made it; the OS cleans the temp folder anyway.
        try { if (Directory.Exists(FullPath)) Directory.Delete(FullPath, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// The seed of a randomized test: taken from CLUSTER_TEST_SEED when set (to replay a failure), otherwise
/// fresh; always written to the test output so that any run can be replayed.
/// </summary>
public static class TestSeed
{
    public const string Variable = "CLUSTER_TEST_SEED";

    public static int Pick(ITestOutputHelper output, string testName)
    {
        var configured = Environment.GetEnvironmentVariable(Variable);
        var seed = int.TryParse(configured, out var parsed) ? parsed : Random.Shared.Next();
        output.WriteLine($"{testName}: seed {seed} (replay with {Variable}={seed})");
        return seed;
    }
}
