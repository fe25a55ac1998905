using System.Net;
using System.Net.Http;
using System.Security.Cryptography;

namespace ClusterNode.Client;

/// <summary>
/// A blob's bytes as the node streams them (<see cref="ClusterNodeClient.GetBlobAsync"/>), hashed as they are read and
/// checked against the sha256 the node announced (<c>Repr-Digest</c>). The read that would complete the blob hands out
/// its bytes only once they hash right: when they do not, or the body ends short (the node cuts a response whose file
/// fails its own check), that read throws <see cref="BlobIntegrityException"/> instead, so a caller never holds the
/// whole blob without it having been verified. Disposing it releases the connection.
/// </summary>
public sealed class BlobDownload : Stream
{
    private readonly HttpResponseMessage _response;
    private readonly Stream _body;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly byte[] _expected;
    private readonly string _name;
    private long _received;
    private bool _verified;

    internal BlobDownload(HttpResponseMessage response, Stream body, long length, byte[] sha256, string name)
    {
        _response = response;
        _body = body;
        Length = length;
        _expected = sha256;
        _name = name;
        ETag = response.Headers.ETag?.Tag;
    }

    /// <summary>The blob's size in bytes.</summary>
    public override long Length { get; }

    /// <summary>The sha256 the node announced for the blob (lowercase hex), which every byte read is checked against.</summary>
    public string Sha256 => Convert.ToHexStringLower(_expected);

    /// <summary>The node's ETag for the blob, or null.</summary>
    public string? ETag { get; }

    /// <summary>True once every byte has been read and matched the sha256.</summary>
    public bool IsVerified => _verified;

    /// <inheritdoc />
    public override bool CanRead => true;

    /// <inheritdoc />
    public override bool CanSeek => false;

    /// <inheritdoc />
    public override bool CanWrite => false;

    /// <summary>Bytes handed out so far.</summary>
    public override long Position
    {
        get => _received;
        set => throw new NotSupportedException("a blob download is read once, from its start to its end");
    }

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc />
    public override int Read(Span<byte> buffer)
    {
        if (_verified || buffer.IsEmpty) return 0;
        if (Length == 0) return Check([]);
        int read;
        try
        {
            read = _body.Read(buffer[..Wanted(buffer.Length)]);
        }
        catch (IOException e)
        {
            throw CutShort(e);
        }
        return Check(buffer[..read]);
    }

    /// <inheritdoc />
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc />
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_verified || buffer.IsEmpty) return 0;
        if (Length == 0) return Check([]);
        int read;
        try
        {
            read = await _body.ReadAsync(buffer[..Wanted(buffer.Length)], cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw CutShort(e);
        }
        return Check(buffer.Span[..read]);
    }

    /// <summary>Never more than the blob's remaining bytes: anything past them would be no part of it.</summary>
    private int Wanted(int bufferLength) => (int)Math.Min(bufferLength, Length - _received);

    /// <summary>Hashes what arrived; at the blob's end, hands it out only if the whole hashes right.</summary>
    private int Check(Span<byte> read)
    {
        if (read.IsEmpty && Length > 0) throw CutShort(null);
        if (_received + read.Length > Length)
            throw new BlobIntegrityException(HttpStatusCode.OK, $"{_name}: the node sent more than the {Length} bytes it announced", Sha256, null);
        _hash.AppendData(read);
        _received += read.Length;
        if (_received < Length) return read.Length;
        var actual = _hash.GetHashAndReset();
        if (!actual.AsSpan().SequenceEqual(_expected))
        {
            // The caller must not take these bytes for the blob's end: they are withheld, and the read fails.
            read.Clear();
            _received -= read.Length;
            throw new BlobIntegrityException(HttpStatusCode.OK,
                $"{_name}: the {Length} bytes received hash to {Convert.ToHexStringLower(actual)}, not to the {Sha256} the node announced; discard what was read",
                Sha256, Convert.ToHexStringLower(actual));
        }
        _verified = true;
        return read.Length;
    }

    private BlobIntegrityException CutShort(Exception? cause) => new(HttpStatusCode.OK,
        $"{_name}: the body ended after {_received} of {Length} bytes (the node cuts a blob that fails its sha256 check, " +
        "and repairs it from a peer; or the connection broke); discard what was read and try again", Sha256, null, cause);

    /// <inheritdoc />
    public override void Flush() { }

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("a blob download cannot seek");

    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException("a blob download is read-only");

    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException("a blob download is read-only");

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _body.Dispose();
            _response.Dispose();
            _hash.Dispose();
        }
        base.Dispose(disposing);
    }
}
