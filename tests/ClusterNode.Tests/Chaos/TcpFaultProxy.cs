using System.Net;
using System.Net.Sockets;

namespace ClusterNode.Tests.Chaos;

/// <summary>
/// A TCP proxy in front of one node's Akka remoting port that breaks the network on command: it resets or cleanly
/// closes every current connection, blackholes connections for a while (bytes read and dropped both ways, new
/// connections accepted and held, all of them cut when it ends so that both sides reconnect), or refuses new
/// connections for a while. It counts what it did. <see cref="Heal"/> returns it to pass-through.
/// </summary>
/// <remarks>
/// A blackhole may be limited to the connections opened by one node (<c>originPort</c>, the port that node
/// advertises), read from the Akka handshake that opens every connection. With that, the proxies of the other nodes
/// can cut a node off in both directions, whichever side opened a connection: a real partition.
/// </remarks>
public sealed class TcpFaultProxy : IAsyncDisposable
{
    /// <summary>Bytes of a new connection held back while looking for the Akka handshake's origin address.</summary>
    private const int SniffLimitBytes = 4096;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    private readonly TcpListener _listener;
    private readonly object _lock = new();
    private readonly HashSet<Link> _links = new();
    private readonly List<Hole> _holes = new();
    private readonly CancellationTokenSource _disposed = new();
    private readonly Task _acceptLoop;
    private DateTime _refuseUntilUtc = DateTime.MinValue;
    private long _accepted, _resets, _closes, _blackholes, _blackholed, _refusals, _refused, _targetDown, _originsRead;

    public TcpFaultProxy(string name, int listenPort, int targetPort)
    {
        Name = name;
        ListenPort = listenPort;
        TargetPort = targetPort;
        _listener = new TcpListener(IPAddress.Loopback, listenPort);
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start(backlog: 64);
        _acceptLoop = AcceptLoop();
    }

    public string Name { get; }
    public int ListenPort { get; }
    public int TargetPort { get; }

    public ProxyFigures Figures => new(Interlocked.Read(ref _accepted), Interlocked.Read(ref _resets), Interlocked.Read(ref _closes),
        Interlocked.Read(ref _blackholes), Interlocked.Read(ref _blackholed), Interlocked.Read(ref _refusals), Interlocked.Read(ref _refused),
        Interlocked.Read(ref _targetDown), Interlocked.Read(ref _originsRead));

    /// <summary>RST on every current connection, both legs. Returns how many.</summary>
    public int ResetAll()
    {
        var count = Snapshot().Count(link => link.End(abort: true));
        Interlocked.Add(ref _resets, count);
        return count;
    }

    /// <summary>FIN on every current connection (shutdown, then close), both legs. Returns how many.</summary>
    public int CloseAll()
    {
        var count = Snapshot().Count(link => link.End(abort: false));
        Interlocked.Add(ref _closes, count);
        return count;
    }

    /// <summary>
    /// For <paramref name="duration"/>, forwards nothing on the connections it covers (all of them, or only those
    /// opened by the node advertising <paramref name="originPort"/>) and holds new ones; then cuts them.
    /// </summary>
    public void Blackhole(TimeSpan duration, int? originPort = null)
    {
        var hole = new Hole(originPort);
        lock (_lock)
        {
            _holes.Add(hole);
            foreach (var link in _links) HoldIfCovered(link);
        }
        Interlocked.Increment(ref _blackholes);
        _ = EndLater(hole, duration);
    }

    /// <summary>For <paramref name="duration"/>, every new connection is accepted and reset at once.</summary>
    public void Refuse(TimeSpan duration)
    {
        lock (_lock)
        {
            var until = DateTime.UtcNow + duration;
            if (until > _refuseUntilUtc) _refuseUntilUtc = until;
        }
        Interlocked.Increment(ref _refusals);
    }

    /// <summary>One fault of the kind given, as <see cref="ProxyFault.Random"/> draws them.</summary>
    public void Inject(ProxyFault fault)
    {
        switch (fault.Kind)
        {
            case ProxyFaultKind.Reset: ResetAll(); break;
            case ProxyFaultKind.Close: CloseAll(); break;
            case ProxyFaultKind.Blackhole: Blackhole(fault.Duration); break;
            case ProxyFaultKind.Refuse: Refuse(fault.Duration); break;
            default: throw new ArgumentOutOfRangeException(nameof(fault), fault.Kind, null);
        }
    }

    /// <summary>Back to pass-through: no refusals, no blackholes; the connections they held are cut so both sides reconnect.</summary>
    public void Heal()
    {
        List<Link> held;
        lock (_lock)
        {
            _refuseUntilUtc = DateTime.MinValue;
            _holes.Clear();
            held = _links.Where(l => l.Held).ToList();
        }
        foreach (var link in held) link.End(abort: true);
    }

    public async ValueTask DisposeAsync()
    {
        await _disposed.CancelAsync();
        _listener.Stop();
        foreach (var link in Snapshot()) link.End(abort: true);
        try { await _acceptLoop; } catch (OperationCanceledException) { /* stopping */ }
        _disposed.Dispose();
    }

    public override string ToString() => $"{Name} proxy :{ListenPort} -> :{TargetPort}";

    private List<Link> Snapshot()
    {
        lock (_lock) return _links.ToList();
    }

    private async Task AcceptLoop()
    {
        while (!_disposed.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_disposed.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }
            _ = Serve(client);
        }
    }

    private async Task Serve(Socket client)
    {
        Interlocked.Increment(ref _accepted);
        client.NoDelay = true;
        var link = new Link(client);
        bool refuse, holdAll;
        lock (_lock)
        {
            refuse = DateTime.UtcNow < _refuseUntilUtc;
            holdAll = _holes.Any(h => h.OriginPort is null);
        }
        if (refuse)
        {
            Interlocked.Increment(ref _refused);
            link.End(abort: true);
            return;
        }
        if (!holdAll)
        {
            var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_disposed.Token);
                timeout.CancelAfter(ConnectTimeout);
                await upstream.ConnectAsync(IPAddress.Loopback, TargetPort, timeout.Token);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                // The node is down (killed, restarting): its peers see what they would see without a proxy.
                Interlocked.Increment(ref _targetDown);
                upstream.Dispose();
                link.End(abort: true);
                return;
            }
            link.Upstream = upstream;
        }
        lock (_lock)
        {
            if (_disposed.IsCancellationRequested)
            {
                link.End(abort: true);
                return;
            }
            _links.Add(link);
            // Accept-but-hold: no upstream at all while everything is blackholed; the end of the blackhole cuts it.
            HoldIfCovered(link);
        }
        try
        {
            var toNode = Pump(link, link.Client, link.Upstream, readsHandshake: true);
            if (link.Upstream is null)
            {
                link.End(abort: !await toNode);
                return;
            }
            var fromNode = Pump(link, link.Upstream, link.Client, readsHandshake: false);
            var first = await Task.WhenAny(toNode, fromNode);
            // One side gone: a clean end (FIN) is passed on as a clean close, anything else as a reset.
            link.End(abort: !await first);
            await Task.WhenAll(toNode, fromNode);
        }
        finally
        {
            lock (_lock) _links.Remove(link);
        }
    }

    /// <summary>Copies <paramref name="from"/> to <paramref name="to"/> until either ends; true for a clean end of stream.</summary>
    private async Task<bool> Pump(Link link, Socket from, Socket? to, bool readsHandshake)
    {
        var buffer = new byte[64 * 1024];
        var sniffed = readsHandshake ? new MemoryStream() : null;
        var sniffedSent = 0;
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, _disposed.Token);
                if (read == 0) return true;
                if (link.Held || to is null) continue; // a blackhole drops what it is given, as a partition drops packets
                var data = buffer.AsMemory(0, read);
                if (sniffed is not null)
                {
                    sniffed.Write(data.Span);
                    var origin = AkkaHandshake.OriginPort(sniffed.GetBuffer().AsSpan(0, (int)sniffed.Length));
                    var known = origin is not null || sniffed.Length >= SniffLimitBytes;
                    bool wait;
                    lock (_lock)
                    {
                        if (known)
                        {
                            link.OriginPort = origin;
                            HoldIfCovered(link);
                        }
                        // While one node is partitioned, a connection that has not said where it is from forwards nothing yet.
                        wait = !known && _holes.Any(h => h.OriginPort is not null);
                    }
                    if (origin is not null) Interlocked.Increment(ref _originsRead);
                    if (wait) continue;
                    data = sniffed.GetBuffer().AsMemory(sniffedSent, (int)sniffed.Length - sniffedSent).ToArray();
                    sniffedSent = (int)sniffed.Length;
                    if (known) sniffed = null;
                    if (link.Held) continue;
                }
                while (data.Length > 0)
                {
                    var sent = await to.SendAsync(data, SocketFlags.None, _disposed.Token);
                    data = data[sent..];
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Called under the lock.</summary>
    private void HoldIfCovered(Link link)
    {
        if (link.Held || !_holes.Any(h => h.Covers(link))) return;
        link.Held = true;
        Interlocked.Increment(ref _blackholed);
    }

    private async Task EndLater(Hole hole, TimeSpan duration)
    {
        try
        {
            await Task.Delay(duration, _disposed.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        List<Link> cut;
        lock (_lock)
        {
            if (!_holes.Remove(hole)) return; // healed meanwhile
            cut = _links.Where(l => l.Held && !_holes.Any(h => h.Covers(l))).ToList();
        }
        foreach (var link in cut) link.End(abort: true);
    }

    private sealed record Hole(int? OriginPort)
    {
        public bool Covers(Link link) => OriginPort is null || link.OriginPort == OriginPort;
    }

    /// <summary>One accepted connection and the one it opened to the node.</summary>
    private sealed class Link(Socket client)
    {
        private int _ended;

        public Socket Client { get; } = client;
        public Socket? Upstream { get; set; }
        public int? OriginPort { get; set; }
        public volatile bool Held;

        /// <summary>Ends both legs, once; true if this call ended it.</summary>
        public bool End(bool abort)
        {
            if (Interlocked.Exchange(ref _ended, 1) == 1) return false;
            Cut(Client, abort);
            if (Upstream is { } upstream) Cut(upstream, abort);
            return true;
        }

        private static void Cut(Socket socket, bool abort)
        {
            try
            {
                if (abort) socket.LingerState = new LingerOption(true, 0);
                else socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { /* already gone */ }
            socket.Close();
        }
    }
}

public enum ProxyFaultKind { Reset, Close, Blackhole, Refuse }

/// <summary>A fault for one proxy; <see cref="Duration"/> matters to blackholes and refusals.</summary>
public sealed record ProxyFault(ProxyFaultKind Kind, TimeSpan Duration)
{
    public static ProxyFault Random(Random random, TimeSpan maxDuration)
    {
        var kind = (ProxyFaultKind)random.Next(4);
        var seconds = 1 + random.NextDouble() * Math.Max(0, maxDuration.TotalSeconds - 1);
        return new ProxyFault(kind, kind is ProxyFaultKind.Blackhole or ProxyFaultKind.Refuse ? TimeSpan.FromSeconds(seconds) : TimeSpan.Zero);
    }
}

/// <summary>What a proxy did, for the test to print; figures of several proxies add up.</summary>
public sealed record ProxyFigures(long Accepted, long Resets, long Closes, long Blackholes, long BlackholedConnections,
    long RefusePeriods, long RefusedConnections, long TargetDown, long OriginsRead)
{
    public static readonly ProxyFigures Zero = new(0, 0, 0, 0, 0, 0, 0, 0, 0);

    public static ProxyFigures operator +(ProxyFigures a, ProxyFigures b) => new(a.Accepted + b.Accepted, a.Resets + b.Resets,
        a.Closes + b.Closes, a.Blackholes + b.Blackholes, a.BlackholedConnections + b.BlackholedConnections, a.RefusePeriods + b.RefusePeriods,
        a.RefusedConnections + b.RefusedConnections, a.TargetDown + b.TargetDown, a.OriginsRead + b.OriginsRead);
}

/// <summary>
/// Reads the origin of an Akka.Remote (dot-netty, classic) connection from its first frame, the associate
/// handshake: a protobuf AddressData { system = 1, hostname = 2, port = 3, protocol = 4 }. Only loopback
/// addresses are looked for: the proxy serves loopback nodes only.
/// </summary>
public static class AkkaHandshake
{
    private static readonly byte[] LoopbackHostThenPort = [0x12, 0x09, .. "127.0.0.1"u8.ToArray(), 0x18];

    public static int? OriginPort(ReadOnlySpan<byte> firstBytes)
    {
        var at = firstBytes.IndexOf(LoopbackHostThenPort);
        if (at < 0) return null;
        var port = 0;
        var shift = 0;
        for (var i = at + LoopbackHostThenPort.Length; i < firstBytes.Length && shift < 21; i++, shift += 7)
        {
            port |= (firstBytes[i] & 0x7F) << shift;
            if ((firstBytes[i] & 0x80) == 0) return port is > 0 and <= 65535 ? port : null;
        }
        return null; // the varint is not complete yet
    }
}
