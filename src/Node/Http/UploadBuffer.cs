using System.Buffers;

namespace ClusterNode.Node.Http;

/// <summary>
/// A buffer for streaming one upload, rented from the shared pool and returned when disposed: a fresh 64 KiB array per
/// request was a zeroed allocation per blob and a steady source of gen0 collections under ingest.
/// </summary>
internal sealed class UploadBuffer : IDisposable
{
    private byte[]? _array;

    public UploadBuffer(int bytes) => _array = ArrayPool<byte>.Shared.Rent(bytes);

    /// <summary>At least the size asked for (the pool may hand out a larger array).</summary>
    public byte[] Array => _array ?? throw new ObjectDisposedException(nameof(UploadBuffer));

    public void Dispose()
    {
        if (_array is null) return;
        ArrayPool<byte>.Shared.Return(_array);
        _array = null;
    }
}
