using System.Security.Cryptography.X509Certificates;
using ClusterNode.Actors.Security;
using ClusterNode.Tests.Replication;
using Xunit;

namespace ClusterNode.Tests.EndToEnd;

/// <summary><c>cluster-node cert create-ca | create-node</c> as an operator runs them: the files they write, and bad usage.</summary>
public sealed class CertCommandSpec : IDisposable
{
    private readonly string _root = TestData.TempDirectory("cert");

    [Fact]
    public async Task Cert_commands_write_a_CA_and_a_node_certificate_that_chains_to_it_with_private_keys_0600()
    {
        var ca = Path.Combine(_root, "ca");
        var node = Path.Combine(_root, "node1");
        var created = await NodeCli.RunAsync("cert", "create-ca", "--out", ca);
        Assert.True(created.ExitCode == 0, created.ToString());
        created = await NodeCli.RunAsync("cert", "create-node", "--ca", ca, "--name", "node1", "--host", "db1.example.org", "--host", "10.1.2.3", "--out", node);
        Assert.True(created.ExitCode == 0, created.ToString());

        if (!OperatingSystem.IsWindows())
            foreach (var secret in new[] { Path.Combine(ca, "ca.key"), Path.Combine(node, "node.key"), Path.Combine(node, "node.pfx") })
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(secret));

        using var caCertificate = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(ca, "ca.crt"));
        using var nodeCertificate = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(node, "node.crt"));
        Assert.True(ClusterCertificates.ChainsTo(nodeCertificate, caCertificate, out var problem), problem);
        Assert.Equal(caCertificate.RawData, X509CertificateLoader.LoadCertificateFromFile(Path.Combine(node, "ca.crt")).RawData);
        Assert.Equal("CN=node1", nodeCertificate.Subject);
        var san = nodeCertificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["db1.example.org", "localhost"], san.EnumerateDnsNames().Order());
        Assert.Equal(["10.1.2.3", "127.0.0.1"], san.EnumerateIPAddresses().Select(a => a.ToString()).Order());
        var usages = nodeCertificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value);
        Assert.Equal(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], usages.Order());
        using var pfx = X509CertificateLoader.LoadPkcs12FromFile(Path.Combine(node, "node.pfx"), "");
        Assert.True(pfx.HasPrivateKey);
        Assert.Equal(nodeCertificate.Thumbprint, pfx.Thumbprint);

        // A certificate of another CA does not chain to this one.
        var other = Path.Combine(_root, "other-ca");
        Assert.Equal(0, (await NodeCli.RunAsync("cert", "create-ca", "--out", other)).ExitCode);
        Assert.Equal(0, (await NodeCli.RunAsync("cert", "create-node", "--ca", other, "--name", "rogue", "--out", Path.Combine(_root, "rogue"))).ExitCode);
        using var rogue = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(_root, "rogue", "node.crt"));
        Assert.False(ClusterCertificates.ChainsTo(rogue, caCertificate, out _));
    }

    [Theory]
    [InlineData("no subcommand", "Required command was not provided")]
    [InlineData("sign-node --out x", "'sign-node'")]
    [InlineData("create-ca", "Option '--out' is required")]
    [InlineData("create-ca --out", "Required argument missing for option: '--out'")]
    [InlineData("create-ca --out a --out b", "'--out' expects a single argument")]
    [InlineData("create-ca --out x --name n", "'--name'")]
    [InlineData("create-node --name n --out x", "Option '--ca' is required")]
    [InlineData("create-node --ca CA --out x", "Option '--name' is required")]
    [InlineData("create-node --ca CA --name bad/name --out x", "--name 'bad/name'")]
    [InlineData("create-node --ca CA --name n --host bad_host! --out x", "--host 'bad_host!'")]
    [InlineData("create-node --ca CA --name n --days 3 --out x", "'--days'")]
    [InlineData("create-node --ca NOWHERE --name n --out x", "ca.crt' does not exist")]
    [InlineData("create-ca --out CA", "ca.key' already exists")]
    public async Task Bad_usage_of_cert_gets_one_line_naming_what_was_wrong_and_exit_code_2(string arguments, string named)
    {
        var ca = Path.Combine(_root, "ca");
        Assert.Equal(0, (await NodeCli.RunAsync("cert", "create-ca", "--out", ca)).ExitCode);
        var args = arguments == "no subcommand"
            ? []
            : arguments.Split(' ').Select(a => a switch
            {
                "CA" => ca,
                "NOWHERE" => Path.Combine(_root, "nowhere"),
                "x" => Path.Combine(_root, "x"),
                _ => a,
            }).ToArray();
        var result = await NodeCli.RunAsync(["cert", .. args]);
        Assert.Equal(2, result.ExitCode);
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains(named, lines[0]);
        Assert.False(Directory.Exists(Path.Combine(_root, "x")), "a refused command wrote files");
    }

    public void Dispose()
    {
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { /* best effort */ }
    }
}
