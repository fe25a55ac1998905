using ClusterNode.Client;
using ClusterNode.Tests.EndToEnd;
using ClusterNode.Tests.Replication;
using ClusterNode.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Client;

/// <summary>
/// One real cluster-node process (a single-node cluster on loopback), shared by the cases of a client spec: the client is
/// tested against the node's real HTTP API, not a model of it. Its output goes to a log file in its data's directory.
/// </summary>
public class ClientNode : IAsyncLifetime
{
    private readonly string _root = TestData.TempDirectory("client");

    public NodeProcess Node { get; private set; } = null!;

    /// <summary>The node's data-dir: blob files under <c>blobs/</c>, uploads in progress under <c>blobs/tmp/</c>.</summary>
    public string DataDirectory => Path.Combine(_root, "node");

    /// <summary>The node's <c>cluster-node.blob.max-size</c>: above the specs' 100 MB blob, low enough to test a refusal cheaply.</summary>
    public const long MaxBlobBytes = 128L * 1024 * 1024;

    /// <summary>More --set lines for the node.</summary>
    protected virtual IReadOnlyList<string> Settings => [$"cluster-node.blob.max-size = {MaxBlobBytes}"];

    public async Task InitializeAsync()
    {
        var port = Loopback.FreePort();
        Node = NodeProcess.Start(new NodeLaunch("client-node", "hocon/local/node1.conf", DataDirectory, port, Loopback.FreePort(), [port])
        {
            Settings = Settings,
            LogFile = LogFile,
            Echo = _ => false,
        }, NoOutput.Instance);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        try
        {
            await http.Healthy(Node);
        }
        catch (Exception e)
        {
            // The node's own lines say why it never became a healthy member; they are otherwise in a file deleted at the end.
            throw new InvalidOperationException($"the node never answered 200 on /health; its output:\n{await File.ReadAllTextAsync(LogFile)}", e);
        }
    }

    private string LogFile => Path.Combine(_root, "node.log");

    /// <summary>A client of the node over an HttpClient with a generous limit, so that a stuck request fails the test instead of hanging it.</summary>
    public ClusterNodeClient Client(string? bearerToken = null) =>
        new(new HttpClient { BaseAddress = Node.Url, Timeout = TimeSpan.FromMinutes(5) }, bearerToken);

    public async Task DisposeAsync()
    {
        await Node.DisposeAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    /// <summary>The node's lines go to its log file only: a fixture outlives any one test's output.</summary>
    private sealed class NoOutput : ITestOutputHelper
    {
        public static readonly NoOutput Instance = new();
        public void WriteLine(string message) { }
        public void WriteLine(string format, params object[] args) { }
    }
}

/// <summary>A node with a read and a write token in <c>cluster-node.http.tokens</c>.</summary>
public sealed class TokenClientNode : ClientNode
{
    public const string ReadToken = "client-spec-read-token";
    public const string WriteToken = "client-spec-write-token";

    protected override IReadOnlyList<string> Settings =>
    [
        $$"""cluster-node.http.tokens = [{ sha256 = "{{ClusterNode.Tests.Node.TokenNode.Sha256(ReadToken)}}", role = read }, { sha256 = "{{ClusterNode.Tests.Node.TokenNode.Sha256(WriteToken)}}", role = write }]""",
    ];
}

/// <summary>
/// Deterministic bytes of any length, made as they are read (never held), seekable so that its length is known: the
/// same seed always gives the same bytes, so a test can hash them again instead of keeping them.
/// </summary>
public sealed class SeededStream(long seed, long length) : Stream
{
    private long _position;

    /// <summary>Called with the position after each read: lets a test act (cancel) part-way through an upload.</summary>
    public Action<long>? AfterRead { get; init; }

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => _position = Math.Clamp(value, 0, length);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = (int)Math.Min(buffer.Length, length - _position);
        var i = 0;
        while (i < n)
        {
            var at = _position + i;
            var word = Mix(seed ^ (at >> 3)); // one word per 8 bytes
            for (var shift = (int)(at & 7); shift < 8 && i < n; shift++, i++) buffer[i] = (byte)(word >> (8 * shift));
        }
        _position += n;
        AfterRead?.Invoke(_position);
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
    {
        SeekOrigin.Begin => offset,
        SeekOrigin.Current => _position + offset,
        _ => length + offset,
    };

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>SplitMix64's finaliser: a good spread of bits from a counter.</summary>
    private static ulong Mix(long value)
    {
        var z = unchecked((ulong)value + 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
