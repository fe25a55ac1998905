using System.Buffers;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace ClusterNode.Client;

/// <summary>
/// A blob's bytes as a request body: copied from the caller's stream a piece at a time (never held whole) and hashed on
/// the way, so the client can check that the node stored exactly what was sent. Its length is known (and sent as
/// Content-Length, which lets the node refuse an oversized blob before reading it) when the stream can seek; then it
/// can also be sent again (HttpClient may resend a request whose connection closed before the node read it).
/// </summary>
internal sealed class BlobContent : HttpContent
{
    private const int BufferBytes = 64 * 1024;

    private readonly Stream _source;
    private readonly long _start;
    private bool _sent;

    public BlobContent(Stream source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!source.CanRead) throw new ArgumentException("the blob's stream cannot be read", nameof(source));
        _source = source;
        _start = source.CanSeek ? source.Position : 0;
        Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
    }

    /// <summary>The sha256 of the bytes last sent, once they all were.</summary>
    public byte[]? Sha256 { get; private set; }

    /// <summary>How many bytes were last sent.</summary>
    public long SentBytes { get; private set; }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        if (_sent)
        {
            if (!_source.CanSeek) throw new InvalidOperationException("the blob's stream cannot seek, so its bytes cannot be sent a second time");
            _source.Position = _start;
        }
        _sent = true;
        Sha256 = null;
        SentBytes = 0;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
        try
        {
            int read;
            while ((read = await _source.ReadAsync(buffer.AsMemory(0, BufferBytes), cancellationToken).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                SentBytes += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        Sha256 = hash.GetHashAndReset();
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _source.CanSeek ? _source.Length - _start : 0;
        return _source.CanSeek;
    }
}
