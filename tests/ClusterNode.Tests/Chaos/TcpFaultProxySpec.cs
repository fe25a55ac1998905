using System.Net;
using System.Net.Sockets;
using System.Text;
using ClusterNode.Tests.Support;
using Xunit;

namespace ClusterNode.Tests.Chaos;

/// <summary>The chaos test's fault proxy in front of an echo server: each fault does what it says, and is counted.</summary>
public sealed class TcpFaultProxySpec : IAsyncLifetime
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(10);
    private readonly TcpListener _echo = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private TcpFaultProxy _proxy = null!;

    [Fact]
    public async Task Proxy_must_pass_bytes_both_ways()
    {
        using var client = await Connect();
        Assert.Equal("hello", await Echo(client, "hello"));
        Assert.Equal(1, _proxy.Figures.Accepted);
    }

    [Fact]
    public async Task Reset_must_end_every_current_connection_with_a_reset()
    {
        using var client = await Connect();
        await Echo(client, "before");
        Assert.Equal(1, _proxy.ResetAll());
        var error = await Assert.ThrowsAsync<SocketException>(() => Read(client));
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
        Assert.Equal(1, _proxy.Figures.Resets);
    }

    [Fact]
    public async Task Close_must_end_every_current_connection_with_an_end_of_stream()
    {
        using var client = await Connect();
        await Echo(client, "before");
        Assert.Equal(1, _proxy.CloseAll());
        Assert.Equal("", await Read(client));
        Assert.Equal(1, _proxy.Figures.Closes);
    }

    [Fact]
    public async Task Blackhole_must_forward_nothing_and_cut_the_connection_when_it_ends()
    {
        using var client = await Connect();
        await Echo(client, "before");
        _proxy.Blackhole(TimeSpan.FromSeconds(1));
        await client.SendAsync(Encoding.ASCII.GetBytes("lost"));
        // Nothing comes back, and when the blackhole ends the connection is cut (a reset), never resumed.
        await Assert.ThrowsAsync<SocketException>(() => Read(client));
        Assert.Equal(1, _proxy.Figures.BlackholedConnections);

        using var after = await Connect();
        Assert.Equal("after", await Echo(after, "after"));
    }

    [Fact]
    public async Task Blackhole_of_one_origin_must_hold_only_the_connections_that_origin_opened()
    {
        using var fromA = await Connect();
        using var fromB = await Connect();
        await Echo(fromA, Encoding.Latin1.GetString(Handshake(4001)));
        await Echo(fromB, Encoding.Latin1.GetString(Handshake(4002)));
        _proxy.Blackhole(Limit, originPort: 4001);
        Assert.Equal("b", await Echo(fromB, "b"));
        await fromA.SendAsync(Encoding.ASCII.GetBytes("a"));
        _proxy.Heal();
        await Assert.ThrowsAsync<SocketException>(() => Read(fromA)); // held, then cut by the heal: "a" never came back
        Assert.Equal(2, _proxy.Figures.OriginsRead);
    }

    [Fact]
    public async Task Refuse_must_reset_new_connections_until_healed()
    {
        _proxy.Refuse(Limit);
        // The reset may come before the connect completes or after: either way the connection fails at once.
        await Assert.ThrowsAsync<SocketException>(async () =>
        {
            using var refused = await Connect();
            await Read(refused);
        });
        Assert.Equal(1, _proxy.Figures.RefusedConnections);

        _proxy.Heal();
        using var accepted = await Connect();
        Assert.Equal("healed", await Echo(accepted, "healed"));
    }

    [Fact]
    public void Handshake_origin_must_be_read_from_the_address_in_an_associate_frame()
    {
        Assert.Equal(45519, AkkaHandshake.OriginPort(Handshake(45519)));
        Assert.Equal(80, AkkaHandshake.OriginPort(Handshake(80)));
        Assert.Null(AkkaHandshake.OriginPort(Handshake(45519)[..^12])); // the port's varint is cut off
        Assert.Null(AkkaHandshake.OriginPort("no handshake here"u8));
    }

    /// <summary>The start of an Akka associate frame: AddressData { system, hostname, port, protocol } in protobuf.</summary>
    private static byte[] Handshake(int port)
    {
        var bytes = new List<byte> { 0x00, 0x00, 0x00, 0x00, 0x0A, 12 };
        bytes.AddRange("cluster-node"u8.ToArray());
        bytes.AddRange([0x12, 9, .. "127.0.0.1"u8.ToArray(), 0x18]);
        for (var value = (uint)port; ; value >>= 7)
        {
            if (value < 0x80) { bytes.Add((byte)value); break; }
            bytes.Add((byte)(value | 0x80));
        }
        bytes.AddRange([0x22, 8, .. "akka.tcp"u8.ToArray()]);
        return bytes.ToArray();
    }

    private async Task<Socket> Connect()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, _proxy.ListenPort);
        return socket;
    }

    private static async Task<string> Echo(Socket client, string text)
    {
        await client.SendAsync(Encoding.Latin1.GetBytes(text));
        var received = new StringBuilder();
        while (received.Length < text.Length)
        {
            var part = await Read(client);
            if (part.Length == 0) break;
            received.Append(part);
        }
        return received.ToString();
    }

    /// <summary>What arrives next; "" at the end of the stream; a SocketException on a reset.</summary>
    private static async Task<string> Read(Socket client)
    {
        using var timeout = new CancellationTokenSource(Limit);
        var buffer = new byte[4096];
        var read = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        return Encoding.Latin1.GetString(buffer, 0, read);
    }

    private async Task EchoServer()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket connection;
            try { connection = await _echo.AcceptSocketAsync(_stop.Token); }
            catch (OperationCanceledException) { return; }
            _ = Task.Run(() => EchoEach(connection));
        }
    }

    private async Task EchoEach(Socket connection)
    {
        using (connection)
        {
            var buffer = new byte[4096];
            try
            {
                int read;
                while ((read = await connection.ReceiveAsync(buffer, SocketFlags.None, _stop.Token)) > 0)
                    await connection.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException) { /* the proxy cut it */ }
        }
    }

    public Task InitializeAsync()
    {
        _echo.Start();
        _ = EchoServer();
        _proxy = new TcpFaultProxy("echo", Loopback.FreePort(), ((IPEndPoint)_echo.LocalEndpoint).Port);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _proxy.DisposeAsync();
        await _stop.CancelAsync();
        _echo.Stop();
        _stop.Dispose();
    }
}
