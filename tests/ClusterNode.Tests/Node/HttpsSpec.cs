using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Node;
using ClusterNode.Node.Http;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Node;

/// <summary>
/// <c>cluster-node.http.https = on</c>: the API is served over TLS with the certificate of <c>cluster-node.tls.certificate</c>,
/// a PEM pair (as `cert create-node` writes it) or a password-protected .pfx, to a client that trusts only that certificate.
/// </summary>
public sealed class HttpsSpec(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly string _root = TestData.TempDirectory("https");
    private readonly X509Certificate2 _certificate = SelfSigned();
    private NodeHost? _host;
    private HttpServer? _http;

    [Theory]
    [InlineData("pem")]
    [InlineData("pfx")]
    public async Task The_api_must_be_served_over_tls_with_the_nodes_certificate(string format)
    {
        string certificateSettings;
        if (format == "pem")
        {
            var crt = Path.Combine(_root, "node.crt");
            File.WriteAllText(crt, _certificate.ExportCertificatePem());
            File.WriteAllText(Path.Combine(_root, "node.key"), _certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
            certificateSettings = $"cluster-node.tls.certificate = \"{crt.Replace("\\", "/")}\"";
        }
        else
        {
            var pfx = Path.Combine(_root, "node.pfx");
            File.WriteAllBytes(pfx, _certificate.Export(X509ContentType.Pkcs12, "secret"));
            certificateSettings = $"cluster-node.tls.certificate = \"{pfx.Replace("\\", "/")}\"\ncluster-node.tls.certificate-password = \"secret\"";
        }
        var config = ConfigurationFactory.ParseString($"""
            {certificateSettings}
            cluster-node.http.https = on
            cluster-node.http.port = 0
            cluster-node.data-dir = "{Path.Combine(_root, "data").Replace("\\", "/")}"
            akka.loglevel = WARNING
            akka.remote.dot-netty.tcp.port = {Loopback.FreePort()}
            """);
        _host = NodeHost.Start(config);
        _http = await HttpServer.StartAsync(() => _host.Runtime, HttpSettings.Create(config.WithDefaults()));

        Assert.Equal("https", _http.Url.Scheme);
        X509Certificate2? served = null;
        using var handler = new HttpClientHandler
        {
            // Trust this one certificate and nothing else, as a client given the node's certificate would.
            ServerCertificateCustomValidationCallback = (_, certificate, _, _) =>
            {
                served = certificate is null ? null : X509CertificateLoader.LoadCertificate(certificate.RawData);
                return certificate?.Thumbprint == _certificate.Thumbprint;
            },
        };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
        var response = await client.GetAsync(new Uri(_http.Url, "/tables"));
        output.WriteLine($"{_http.Url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(_certificate.Thumbprint, served?.Thumbprint);

        // Plain HTTP to the TLS port gets no answer of the API.
        using var plain = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var plainUrl = new UriBuilder(_http.Url) { Scheme = "http" }.Uri;
        HttpStatusCode? plainStatus = null;
        try { plainStatus = (await plain.GetAsync(new Uri(plainUrl, "/tables"))).StatusCode; } catch (HttpRequestException) { /* the connection is closed */ }
        output.WriteLine($"plain HTTP: {plainStatus?.ToString() ?? "connection closed"}");
        Assert.NotEqual(HttpStatusCode.OK, plainStatus);
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_http is not null) await _http.DisposeAsync();
        if (_host is not null) await _host.DisposeAsync();
        _certificate.Dispose();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }
}
