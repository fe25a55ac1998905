namespace ClusterNode.Tests.Replication;

/// <summary>Deterministic test content: the same index always gives the same bytes, so a check needs no source node.</summary>
public static class TestData
{
    public static byte[] Blob(int index, int sizeBytes)
    {
        var bytes = new byte[sizeBytes];
        new Random(unchecked(index * 7919 + sizeBytes)).NextBytes(bytes);
        return bytes;
    }

    public static string Id(int index) => $"rec-{index:D5}";

    /// <summary>A fresh directory under the system temp folder, removed by the caller.</summary>
    public static string TempDirectory(string purpose)
    {
        var path = Path.Combine(Path.GetTempPath(), "cluster-node-tests", $"{purpose}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }
}
