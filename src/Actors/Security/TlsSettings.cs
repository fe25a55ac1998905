using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;

namespace ClusterNode.Actors.Security;

/// <summary>
/// <c>cluster-node.tls</c>, read and checked once at start-up, and mapped onto Akka.Remote's dot-netty TLS.
///
/// What Akka.NET 1.5.74 offers, and what is used: <c>akka.remote.dot-netty.tcp.enable-ssl</c> with
/// <c>ssl.require-mutual-authentication = on</c> (both ends present a certificate: the server asks for the client's
/// and refuses a connection without one), and a <see cref="DotNettySslSetup"/> given to the ActorSystem with the
/// node's certificate and a <see cref="CertificateValidationCallback"/> that replaces Akka's own check on both ends.
/// Akka's own check (HOCON alone) trusts the machine's trust store, so any certificate from a public CA would pass;
/// the callback here instead builds the chain with the cluster CA as the only trusted root, so only certificates the
/// cluster CA signed are accepted. Host names are not checked (members are addressed by IP; the CA is the identity).
///
/// Akka's own behaviour on a refusal: inbound, the connection is closed and logged ("Rejected incoming connection from
/// [address]"); outbound (this node dialled a seed or member whose certificate fails), Akka 1.5.74 runs
/// CoordinatedShutdown on the whole ActorSystem, and NodeHost starts a new incarnation on the same store, as after
/// a quarantine. Nothing is sent before the handshake succeeds either way.
/// </summary>
public sealed class TlsSettings
{
    public static readonly TlsSettings Off = new(false, null, null);

    private TlsSettings(bool enabled, X509Certificate2? ca, X509Certificate2? certificate)
    {
        Enabled = enabled;
        Ca = ca;
        Certificate = certificate;
    }

    public bool Enabled { get; }

    /// <summary>The only root a peer's certificate may chain to.</summary>
    public X509Certificate2? Ca { get; }

    /// <summary>This node's certificate with its private key, shown to every peer.</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>
    /// Reads <c>cluster-node.tls</c> of <paramref name="config"/> (with the defaults under it); a missing or unreadable
    /// file, a certificate without its key, or one the CA did not sign throws a <see cref="ConfigurationException"/>
    /// naming the key.
    /// </summary>
    public static TlsSettings Create(Config config)
    {
        var tls = config.GetConfig("cluster-node.tls");
        if (tls is null || !tls.GetBoolean("enabled", false)) return Off;
        var ca = ReadCa(RequiredPath(tls, "ca"));
        var certificate = ReadCertificate(RequiredPath(tls, "certificate"), tls.GetString("certificate-password", ""));
        if (!ClusterCertificates.ChainsTo(certificate, ca, out var problem))
            throw new ConfigurationException($"cluster-node.tls.certificate: {problem} (cluster-node.tls.ca)");
        return new TlsSettings(true, ca, certificate);
    }

    /// <summary>
    /// The ActorSystem's setup for <paramref name="config"/>: as it is when TLS is off; else with dot-netty's TLS on,
    /// mutual authentication required, the node's certificate and the cluster-CA check. Seed nodes given as
    /// <c>akka.tcp://</c> become <c>akka.ssl.tcp://</c>, the only scheme a node with TLS listens on, so turning TLS on
    /// needs no edit of the seed list.
    /// </summary>
    public ActorSystemSetup Setup(Config config)
    {
        if (!Enabled) return ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(config));
        var seeds = config.GetStringList("akka.cluster.seed-nodes", []).Select(seed =>
            seed.StartsWith("akka.tcp://", StringComparison.Ordinal) ? "akka.ssl.tcp://" + seed["akka.tcp://".Length..] : seed);
        var overlay = ConfigurationFactory.ParseString($$"""
            akka.remote.dot-netty.tcp {
              enable-ssl = on
              ssl { suppress-validation = off, require-mutual-authentication = on, validate-certificate-hostname = off }
            }
            akka.cluster.seed-nodes = [{{string.Join(", ", seeds.Select(seed => $"\"{seed}\""))}}]
            """);
        var ssl = new DotNettySslSetup(Certificate!, suppressValidation: false, requireMutualAuthentication: true,
            validateCertificateHostname: false, customValidator: Validate);
        return BootstrapSetup.Create().WithConfig(overlay.WithFallback(config)).And(ssl);
    }

    /// <summary>
    /// Akka's hook on both ends of every handshake: true only for a certificate signed by the cluster CA. The
    /// SslStream's own <paramref name="errors"/> are judged against the machine's trust store, so only a missing
    /// certificate is taken from them. <paramref name="peer"/> is the remote socket (inbound) or Akka address (outbound).
    /// </summary>
    private bool Validate(X509Certificate2? certificate, X509Chain? chain, string peer, SslPolicyErrors errors, ILoggingAdapter log)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            log.Warning("TLS: refused peer {0}: it presented no certificate", peer);
            return false;
        }
        if (ClusterCertificates.ChainsTo(certificate, Ca!, out var problem)) return true;
        log.Warning("TLS: refused peer {0}: {1}", peer, problem);
        return false;
    }

    private static string RequiredPath(Config tls, string key)
    {
        var path = tls.GetString(key, "");
        if (string.IsNullOrWhiteSpace(path))
            throw new ConfigurationException($"cluster-node.tls.{key} must name a file when cluster-node.tls.enabled = on");
        if (!File.Exists(path))
            throw new ConfigurationException($"cluster-node.tls.{key}: '{path}' does not exist");
        return path;
    }

    private static X509Certificate2 ReadCa(string path)
    {
        try
        {
            var ca = X509CertificateLoader.LoadCertificateFromFile(path);
            return ca.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority)
                ? ca
                : throw new ConfigurationException($"cluster-node.tls.ca: '{path}' is not a CA certificate");
        }
        catch (CryptographicException e)
        {
            throw new ConfigurationException($"cluster-node.tls.ca: '{path}' is not a certificate: {e.Message}", e);
        }
    }

    /// <summary>A PKCS#12 file (.pfx, .p12), or a PEM certificate with its key in the same file or in a .key file beside it.</summary>
    private static X509Certificate2 ReadCertificate(string path, string password)
    {
        X509Certificate2 certificate;
        try
        {
            var extension = Path.GetExtension(path).ToLowerInvariant();
            if (extension is ".pfx" or ".p12")
                certificate = X509CertificateLoader.LoadPkcs12FromFile(path, password);
            else
            {
                var key = File.ReadAllText(path).Contains("PRIVATE KEY", StringComparison.Ordinal) ? path : Path.ChangeExtension(path, ".key");
                if (!File.Exists(key))
                    throw new ConfigurationException($"cluster-node.tls.certificate: '{path}' holds no private key and '{key}' does not exist");
                // Through PKCS#12 once, so the key is a persisted one as SslStream wants on every platform.
                using var pem = X509Certificate2.CreateFromPemFile(path, key);
                certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            }
        }
        catch (CryptographicException e)
        {
            throw new ConfigurationException(
                $"cluster-node.tls.certificate: '{path}' cannot be read with its key (cluster-node.tls.certificate-password?): {e.Message}", e);
        }
        return certificate.HasPrivateKey
            ? certificate
            : throw new ConfigurationException($"cluster-node.tls.certificate: '{path}' holds no private key");
    }
}
