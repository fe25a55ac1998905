using Akka.Configuration;

namespace ClusterNode.Node.Telemetry;

/// <summary>
/// <c>cluster-node.telemetry</c>: where the node's metrics go besides <c>GET /metrics</c> (always served, Prometheus text):
/// an OTLP collector when <c>otlp.endpoint</c> is set. Read once and checked at start-up; a bad value throws a
/// <see cref="ConfigurationException"/> naming the key.
/// </summary>
public sealed record TelemetrySettings(Uri? OtlpEndpoint, OtlpProtocol OtlpProtocol, TimeSpan OtlpExportInterval)
{
    public const string Section = "cluster-node.telemetry";

    public static readonly TelemetrySettings Default = new(null, OtlpProtocol.Grpc, TimeSpan.FromSeconds(15));

    public static TelemetrySettings Create(Config config)
    {
        string endpoint, protocol;
        TimeSpan interval;
        try
        {
            endpoint = config.GetString($"{Section}.otlp.endpoint", "");
            protocol = config.GetString($"{Section}.otlp.protocol", "grpc");
        }
        catch (Exception e)
        {
            throw new ConfigurationException($"{Section}.otlp.endpoint and protocol must be strings ({e.Message})");
        }
        try
        {
            interval = config.GetTimeSpan($"{Section}.otlp.export-interval", Default.OtlpExportInterval, allowInfinite: false);
        }
        catch (Exception e)
        {
            throw new ConfigurationException($"{Section}.otlp.export-interval must be a duration such as 15s ({e.Message})");
        }
        Uri? uri = null;
        if (endpoint.Length > 0 && (!Uri.TryCreate(endpoint, UriKind.Absolute, out uri) || uri.Scheme is not ("http" or "https")))
            throw new ConfigurationException($"{Section}.otlp.endpoint: '{endpoint}' is not an http or https URL (e.g. \"http://collector:4317\"; empty: no OTLP export)");
        var parsed = protocol switch
        {
            "grpc" => OtlpProtocol.Grpc,
            "http/protobuf" => OtlpProtocol.HttpProtobuf,
            _ => throw new ConfigurationException($"{Section}.otlp.protocol: '{protocol}' is not grpc or http/protobuf"),
        };
        if (interval < TimeSpan.FromSeconds(1) || interval > TimeSpan.FromHours(1))
            throw new ConfigurationException($"{Section}.otlp.export-interval: {interval} is outside 1s..1h");
        return new TelemetrySettings(uri, parsed, interval);
    }
}

/// <summary>
/// OTLP's transports, as <c>otlp.protocol</c> names them. Not OpenTelemetry's own enum: the settings are read before
/// anything starts, and need not load the OTLP exporter's assembly, which only a node exporting over OTLP uses.
/// </summary>
public enum OtlpProtocol
{
    Grpc,
    HttpProtobuf,
}
