using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Node.Http;
using ClusterNode.Node.Telemetry;
using Xunit;

namespace ClusterNode.Tests.Configuration;

/// <summary><c>cluster-node.telemetry</c>: the documented defaults (no OTLP export), and a bad value stops start-up naming its key.</summary>
public sealed class TelemetrySettingsSpec
{
    [Fact]
    public void Defaults_must_be_the_documented_ones()
    {
        var settings = TelemetrySettings.Create(ConfigurationFactory.Empty.WithDefaults());
        Assert.Equal(new TelemetrySettings(null, OtlpProtocol.Grpc, TimeSpan.FromSeconds(15)), settings);
        Assert.Equal(settings, HttpSettings.Create(ConfigurationFactory.Empty.WithDefaults()).Telemetry);
    }

    [Fact]
    public void An_otlp_collector_must_be_read_with_its_protocol_and_interval()
    {
        var settings = Create("""otlp { endpoint = "http://collector:4318/v1/metrics", protocol = "http/protobuf", export-interval = 5s }""");
        Assert.Equal(new TelemetrySettings(new Uri("http://collector:4318/v1/metrics"), OtlpProtocol.HttpProtobuf, TimeSpan.FromSeconds(5)), settings);
    }

    [Theory]
    [InlineData("""otlp.endpoint = "collector:4317" """, "cluster-node.telemetry.otlp.endpoint: 'collector:4317' is not an http or https URL")]
    [InlineData("""otlp.endpoint = "ftp://collector" """, "cluster-node.telemetry.otlp.endpoint: 'ftp://collector'")]
    [InlineData("otlp.protocol = udp", "cluster-node.telemetry.otlp.protocol: 'udp' is not grpc or http/protobuf")]
    [InlineData("otlp.export-interval = 10ms", "cluster-node.telemetry.otlp.export-interval: 00:00:00.0100000 is outside 1s..1h")]
    [InlineData("otlp.export-interval = often", "cluster-node.telemetry.otlp.export-interval must be a duration")]
    public void A_bad_value_must_stop_start_up_naming_its_key(string hocon, string message)
    {
        var refused = Assert.Throws<ConfigurationException>(() => Create(hocon));
        Assert.StartsWith(message, refused.Message);
        // And through the HTTP settings read at start-up.
        Assert.StartsWith(message, Assert.Throws<ConfigurationException>(() => HttpSettings.Create(Config(hocon))).Message);
    }

    private static Config Config(string hocon) => ConfigurationFactory.ParseString($"cluster-node.telemetry {{ {hocon} }}").WithDefaults();

    private static TelemetrySettings Create(string hocon) => TelemetrySettings.Create(Config(hocon));
}
