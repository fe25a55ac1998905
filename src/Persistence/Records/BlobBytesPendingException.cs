namespace ClusterNode.Persistence.Records;

/// <summary>
/// A local write would issue a version that refers to a blob whose bytes have not arrived on this node yet
/// (the record came from a peer and its blob is still in flight). Such a version could win everywhere while its
/// bytes exist nowhere, so the write is refused; it succeeds once the bytes are here (HTTP: 503, Retry-After).
/// </summary>
public sealed class BlobBytesPendingException(string table, string id, IReadOnlyList<string> fields)
    : InvalidOperationException($"record {table}/{id}: the bytes of blob field(s) {string.Join(", ", fields)} have not arrived on this node yet; retry shortly")
{
    public string Table { get; } = table;
    public string Id { get; } = id;
    public IReadOnlyList<string> Fields { get; } = fields;
}
