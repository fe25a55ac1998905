using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace ClusterNode.Actors.Security;

/// <summary>
/// The cluster's private CA and the node certificates it signs, made with System.Security.Cryptography alone (no
/// openssl), as <c>cluster-node cert</c> writes them and the bench makes them in-process. ECDSA P-256 throughout.
/// A node certificate is for both TLS ends (server and client auth): every member accepts and opens connections.
/// </summary>
public static class ClusterCertificates
{
    public const string CaCertificateFile = "ca.crt";
    public const string CaKeyFile = "ca.key";
    public const string NodeCertificateFile = "node.crt";
    public const string NodeKeyFile = "node.key";
    public const string NodePkcs12File = "node.pfx";

    public static readonly TimeSpan CaValidity = TimeSpan.FromDays(3650);
    public static readonly TimeSpan NodeValidity = TimeSpan.FromDays(730);

    /// <summary>Always in a node certificate's SAN, so a local cluster works without naming hosts.</summary>
    public static readonly IReadOnlyList<string> DefaultHosts = ["127.0.0.1", "localhost"];

    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuth = "1.3.6.1.5.5.7.3.2";

    /// <summary>A self-signed CA (with its private key) that can sign node certificates and nothing below them.</summary>
    public static X509Certificate2 CreateCa(string? commonName = null)
    {
        // A name of its own, so a log line that refuses another cluster's certificate tells the two CAs apart.
        commonName ??= $"cluster-node CA {Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4))}";
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={commonName}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        // An hour back: a peer whose clock is a little behind must not find the certificate not yet valid.
        return request.CreateSelfSigned(now.AddHours(-1), now + CaValidity);
    }

    /// <summary>A node certificate (with its private key) signed by <paramref name="ca"/>, naming every host in its SAN.</summary>
    public static X509Certificate2 CreateNode(X509Certificate2 ca, string name, IEnumerable<string> hosts)
    {
        if (!ca.HasPrivateKey) throw new ArgumentException("the CA certificate has no private key to sign with");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuth), new Oid(ClientAuth)], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var san = new SubjectAlternativeNameBuilder();
        foreach (var host in hosts.Concat(DefaultHosts).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (IPAddress.TryParse(host, out var address)) san.AddIpAddress(address);
            else san.AddDnsName(host);
        }
        request.CertificateExtensions.Add(san.Build());
        var now = DateTimeOffset.UtcNow;
        var notAfter = now + NodeValidity < ca.NotAfter ? now + NodeValidity : new DateTimeOffset(ca.NotAfter.ToUniversalTime());
        using var signed = request.Create(ca, now.AddHours(-1), notAfter, RandomNumberGenerator.GetBytes(16));
        return signed.CopyWithPrivateKey(key);
    }

    /// <summary>Writes ca.crt and ca.key (0600) into <paramref name="directory"/>; refuses to overwrite a key.</summary>
    public static void WriteCa(X509Certificate2 ca, string directory)
    {
        Directory.CreateDirectory(directory);
        using var key = ca.GetECDsaPrivateKey() ?? throw new ArgumentException("the CA certificate has no ECDSA private key");
        WriteSecret(Path.Combine(directory, CaKeyFile), key.ExportPkcs8PrivateKeyPem());
        WritePublic(Path.Combine(directory, CaCertificateFile), ca.ExportCertificatePem());
    }

    /// <summary>
    /// Writes node.crt, node.key and node.pfx (both 0600; the PKCS#12 file without a password, like node.key) and a
    /// copy of the CA's ca.crt into <paramref name="directory"/>, so the directory is all a node's TLS settings name.
    /// </summary>
    public static void WriteNode(X509Certificate2 node, X509Certificate2 ca, string directory)
    {
        Directory.CreateDirectory(directory);
        using var key = node.GetECDsaPrivateKey() ?? throw new ArgumentException("the node certificate has no ECDSA private key");
        WriteSecret(Path.Combine(directory, NodeKeyFile), key.ExportPkcs8PrivateKeyPem());
        WriteSecret(Path.Combine(directory, NodePkcs12File), node.ExportPkcs12(Pkcs12ExportPbeParameters.Pbes2Aes256Sha256, ""));
        WritePublic(Path.Combine(directory, NodeCertificateFile), node.ExportCertificatePem());
        WritePublic(Path.Combine(directory, CaCertificateFile), ca.ExportCertificatePem());
    }

    /// <summary>The CA of <paramref name="directory"/> with its key, to sign with; IOException or ArgumentException naming the file.</summary>
    public static X509Certificate2 ReadCa(string directory)
    {
        var certificate = Path.Combine(directory, CaCertificateFile);
        var key = Path.Combine(directory, CaKeyFile);
        foreach (var file in new[] { certificate, key })
            if (!File.Exists(file)) throw new FileNotFoundException($"'{file}' does not exist (make a CA with `cluster-node cert create-ca --out {directory}`)");
        try
        {
            var ca = X509Certificate2.CreateFromPemFile(certificate, key);
            return ca.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority)
                ? ca
                : throw new ArgumentException($"'{certificate}' is not a CA certificate");
        }
        catch (CryptographicException e)
        {
            throw new ArgumentException($"'{certificate}' and '{key}' are not a PEM certificate and its private key: {e.Message}", e);
        }
    }

    /// <summary>True when <paramref name="certificate"/> is signed by <paramref name="ca"/> alone (the machine's trust store plays no part).</summary>
    public static bool ChainsTo(X509Certificate2 certificate, X509Certificate2 ca, out string problem)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        // A private CA publishes no revocation list: the cluster's answer to a lost key is a new CA.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        var built = chain.Build(certificate);
        var root = chain.ChainElements.Count > 0 ? chain.ChainElements[^1].Certificate : null;
        if (built && root is not null && root.RawDataMemory.Span.SequenceEqual(ca.RawDataMemory.Span))
        {
            problem = "";
            return true;
        }
        var status = string.Join(", ", chain.ChainStatus.Select(s => s.Status).Distinct());
        problem = $"'{certificate.Subject}' (issuer '{certificate.Issuer}') does not chain to the cluster CA '{ca.Subject}'" +
                  (status.Length > 0 ? $": {status}" : "");
        return false;
    }

    private static void WriteSecret(string path, string pem) => WriteSecret(path, System.Text.Encoding.ASCII.GetBytes(pem));

    private static void WriteSecret(string path, byte[] bytes)
    {
        if (File.Exists(path)) throw new IOException($"'{path}' already exists; remove it first to make a new one");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        // Created 0600 rather than chmod-ed after, so the key is never readable by others even for a moment.
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var file = new FileStream(path, options);
        file.Write(bytes);
        file.Flush(true);
    }

    private static void WritePublic(string path, string pem) => File.WriteAllText(path, pem + "\n");
}
