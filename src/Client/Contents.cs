using System.Buffers;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;

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

/// <summary>A batch as NDJSON (one <c>{"id","data"}</c> per line), written straight to the request stream as it is sent.</summary>
internal sealed class NdjsonBatchContent<T> : HttpContent
{
    private readonly IReadOnlyList<BatchRecord<T>> _records;
    private readonly JsonSerializerOptions _options;

    public NdjsonBatchContent(IReadOnlyList<BatchRecord<T>> records, JsonSerializerOptions options)
    {
        _records = records;
        _options = options;
        Headers.ContentType = new MediaTypeHeaderValue("application/x-ndjson") { CharSet = "utf-8" };
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        await using var writer = new Utf8JsonWriter(buffer);
        foreach (var record in _records)
        {
            writer.WriteStartObject();
            writer.WriteString("id", record.Id);
            writer.WritePropertyName("data");
            JsonSerializer.Serialize(writer, record.Data, _options);
            writer.WriteEndObject();
            writer.Flush();
            writer.Reset();
            buffer.Write("\n"u8);
            // Sent in pieces of about 64 KiB: a large batch is never built whole in memory.
            if (buffer.WrittenCount < 64 * 1024) continue;
            await stream.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
            buffer.ResetWrittenCount();
        }
        if (buffer.WrittenCount > 0) await stream.WriteAsync(buffer.WrittenMemory, cancellationToken).ConfigureAwait(false);
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
