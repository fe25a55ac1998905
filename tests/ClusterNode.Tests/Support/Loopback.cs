using System.Net;
using System.Net.Sockets;

namespace ClusterNode.Tests.Support;

/// <summary>What tests of real nodes on loopback share.</summary>
public static class Loopback
{
    /// <summary>A seed (or any node a test must reach) needs a known port: ask the OS for a free one.</summary>
    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>
    /// Retries <paramref name="assertion"/> until it passes or <paramref name="within"/> (default 90 s) is over, for
    /// tests that watch other processes over HTTP, where TestKit's AwaitAssert has no actor system to lean on.
    /// </summary>
    public static async Task Eventually(Func<Task> assertion, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(90));
        while (true)
        {
            try
            {
                await assertion();
                return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200); // the poll interval of the test, not of the product
            }
        }
    }
}
