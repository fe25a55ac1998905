using Akka.Configuration;

namespace ClusterNode.Node.Http;

/// <summary><c>cluster-node.http</c>: where the HTTP API listens; read once and checked at start-up.</summary>
public sealed record HttpSettings(string Host, int Port)
{
    public static HttpSettings Create(Config config)
    {
        string host;
        int port;
        try
        {
            host = config.GetString("cluster-node.http.host", "127.0.0.1");
            port = config.GetInt("cluster-node.http.port", 8080);
        }
        catch (Exception e)
        {
            throw new ConfigurationException($"cluster-node.http: host must be a string and port a number ({e.Message})");
        }
        if (string.IsNullOrWhiteSpace(host)) throw new ConfigurationException("cluster-node.http.host must be set");
        if (port is < 0 or > 65535) throw new ConfigurationException($"cluster-node.http.port: {port} is not a port (0 to 65535)");
        return new HttpSettings(host, port);
    }
}
