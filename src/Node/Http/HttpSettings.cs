using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Configuration;
using ClusterNode.Node.Telemetry;

namespace ClusterNode.Node.Http;

/// <summary>
/// <c>cluster-node.http</c>: where the HTTP API listens, the tokens it accepts and, with <c>https = on</c>, the node's
/// certificate (<c>cluster-node.tls.certificate</c>); read once and checked at start-up.
/// </summary>
public sealed record HttpSettings(string Host, int Port)
{
    public const string CertificateKey = "cluster-node.tls.certificate";

    /// <summary>Empty: the API is open.</summary>
    public IReadOnlyList<ApiToken> Tokens { get; init; } = [];

    /// <summary>Null: plain HTTP.</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary><c>cluster-node.telemetry</c>: where metrics go besides /metrics.</summary>
    public TelemetrySettings Telemetry { get; init; } = TelemetrySettings.Default;

    /// <summary>The body of one batch (<c>POST /tables/{table}/records</c>) at most: <c>cluster-node.http.max-batch-bytes</c>.</summary>
    public long MaxBatchBytes { get; init; } = 16L << 20;

    /// <summary>Records of one batch at most: <c>cluster-node.http.max-batch-records</c>.</summary>
    public int MaxBatchRecords { get; init; } = 10_000;

    /// <summary>
    /// Blob bytes of one multipart batch at most (<c>cluster-node.http.max-batch-blob-bytes</c>): streamed to temp files,
    /// not held in memory, but all of them stay on disk until the batch is durable or refused.
    /// </summary>
    public long MaxBatchBlobBytes { get; init; } = 1L << 30;

    /// <summary>Blob parts of one multipart batch at most (<c>cluster-node.http.max-batch-blobs</c>): each holds a temp file open until the batch is durable.</summary>
    public int MaxBatchBlobs { get; init; } = 1_000;

    public static HttpSettings Create(Config config)
    {
        string host;
        int port;
        bool https;
        try
        {
            host = config.GetString("cluster-node.http.host", "127.0.0.1");
            port = config.GetInt("cluster-node.http.port", 8080);
        }
        catch (Exception e)
        {
            throw new ConfigurationException($"cluster-node.http: host must be a string and port a number ({e.Message})");
        }
        try
        {
            https = config.GetBoolean("cluster-node.http.https", false);
        }
        catch (Exception e)
        {
            throw new ConfigurationException($"cluster-node.http.https must be on or off ({e.Message})");
        }
        if (string.IsNullOrWhiteSpace(host)) throw new ConfigurationException("cluster-node.http.host must be set");
        if (port is < 0 or > 65535) throw new ConfigurationException($"cluster-node.http.port: {port} is not a port (0 to 65535)");
        long maxBatchBytes, maxBatchRecords, maxBatchBlobBytes, maxBatchBlobs;
        try
        {
            maxBatchBytes = config.GetByteSize("cluster-node.http.max-batch-bytes") ?? 16L << 20;
            maxBatchRecords = config.GetLong("cluster-node.http.max-batch-records", 10_000);
        }
        catch (Exception e)
        {
            throw new ConfigurationException($"cluster-node.http.max-batch-bytes must be a size such as 16 MiB and max-batch-records a number ({e.Message})");
        }
        try
        {
            maxBatchBlobBytes = config.GetByteSize("cluster-node.http.max-batch-blob-bytes") ?? 1L << 30;
        }
        catch (Exception e)
        {
            throw new ConfigurationException($"cluster-node.http.max-batch-blob-bytes must be a size such as 1 GiB ({e.Message})");
        }
        try
        {
            maxBatchBlobs = config.GetLong("cluster-node.http.max-batch-blobs", 1_000);
        }
        catch (Exception e)
        {
            throw new ConfigurationException($"cluster-node.http.max-batch-blobs must be a number ({e.Message})");
        }
        // A batch is one transaction held in memory while it is checked: bounded, as everything is.
        if (maxBatchBytes is < 1024 or > 1L << 30)
            throw new ConfigurationException($"cluster-node.http.max-batch-bytes: {maxBatchBytes} bytes is outside 1 KiB..1 GiB");
        if (maxBatchRecords is < 1 or > 1_000_000)
            throw new ConfigurationException($"cluster-node.http.max-batch-records: {maxBatchRecords} is outside 1..1000000");
        if (maxBatchBlobBytes is < 0 or > 1L << 40)
            throw new ConfigurationException($"cluster-node.http.max-batch-blob-bytes: {maxBatchBlobBytes} bytes is outside 0..1 TiB");
        if (maxBatchBlobs is < 0 or > 100_000)
            throw new ConfigurationException($"cluster-node.http.max-batch-blobs: {maxBatchBlobs} is outside 0..100000");
        return new HttpSettings(host, port)
        {
            MaxBatchBytes = maxBatchBytes,
            MaxBatchRecords = (int)maxBatchRecords,
            MaxBatchBlobBytes = maxBatchBlobBytes,
            MaxBatchBlobs = (int)maxBatchBlobs,
            Tokens = ApiAuthentication.ReadTokens(config),
            Certificate = https ? LoadCertificate(config) : null,
            Telemetry = TelemetrySettings.Create(config),
        };
    }

    /// <summary>
    /// The node's certificate with its private key: a .pfx/.p12 by its extension, else PEM (as `cert create-node` writes
    /// it), its key in the same file or beside it with the extension .key; encrypted when certificate-password is set.
    /// </summary>
    public static X509Certificate2 LoadCertificate(Config config)
    {
        string path, password;
        try
        {
            path = config.GetString(CertificateKey, "");
            password = config.GetString("cluster-node.tls.certificate-password", "");
        }
        catch (Exception e)
        {
            throw new ConfigurationException($"{CertificateKey} and certificate-password must be strings ({e.Message})");
        }
        if (string.IsNullOrWhiteSpace(path))
            throw new ConfigurationException($"cluster-node.http.https = on needs {CertificateKey} (this node's certificate and key)");
        if (!File.Exists(path)) throw new ConfigurationException($"{CertificateKey}: '{path}' does not exist");
        X509Certificate2 certificate;
        try
        {
            if (Path.GetExtension(path).ToLowerInvariant() is ".pfx" or ".p12")
                certificate = X509CertificateLoader.LoadPkcs12FromFile(path, password.Length == 0 ? null : password);
            else
            {
                var keyPath = File.ReadAllText(path).Contains("PRIVATE KEY", StringComparison.Ordinal) ? path : Path.ChangeExtension(path, ".key");
                if (!File.Exists(keyPath)) throw new ConfigurationException($"{CertificateKey}: '{path}' holds no private key and '{keyPath}' does not exist");
                certificate = password.Length == 0
                    ? X509Certificate2.CreateFromPemFile(path, keyPath)
                    : X509Certificate2.CreateFromEncryptedPemFile(path, password, keyPath);
            }
        }
        catch (Exception e) when (e is CryptographicException or IOException or ArgumentException or UnauthorizedAccessException)
        {
            throw new ConfigurationException($"{CertificateKey}: cannot load '{path}' as a certificate with its key: {e.Message}");
        }
        if (!certificate.HasPrivateKey) throw new ConfigurationException($"{CertificateKey}: '{path}' holds no private key");
        return certificate;
    }
}
