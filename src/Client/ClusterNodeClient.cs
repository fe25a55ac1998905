using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace ClusterNode.Client;

/// <summary>
/// A typed client of one cluster-node's HTTP API: records, batches, blobs streamed both ways (a download verified
/// against its sha256 as it streams), status, members and health. Every refusal of the node becomes a
/// <see cref="ClusterNodeException"/> (a subclass per case a caller handles differently) carrying the node's message.
/// A node that cannot be reached at all surfaces as the <see cref="HttpRequestException"/> of the HttpClient, and a
/// cancelled call as <see cref="OperationCanceledException"/>. Thread-safe; one instance per node is meant to live as
/// long as the application, like the <see cref="HttpClient"/> under it.
/// </summary>
/// <example>
/// <code>
/// using var client = new ClusterNodeClient(new Uri("http://127.0.0.1:8080/"), bearerToken: "my-write-token");
/// await client.PutRecordAsync("people", "bob", new { name = "Bob" });
/// await using (var photo = File.OpenRead("bob.jpg")) await client.PutBlobAsync("people", "bob", "photo", photo);
/// await using var download = await client.GetBlobAsync("people", "bob", "photo");
/// await download.CopyToAsync(destination); // the last read throws BlobIntegrityException if the bytes do not verify
/// </code>
/// </example>
public sealed class ClusterNodeClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly Uri _base;
    private readonly string? _token;

    /// <summary>
    /// A client over <paramref name="httpClient"/>, whose <see cref="HttpClient.BaseAddress"/> is the node's URL (as
    /// an <c>IHttpClientFactory</c> typed or named client is configured). The HttpClient is not disposed with the client.
    /// </summary>
    /// <param name="httpClient">An HttpClient whose BaseAddress is the node, e.g. <c>http://127.0.0.1:8080/</c>.</param>
    /// <param name="bearerToken">A token of the node's <c>cluster-node.http.tokens</c>, sent on every request; null: none
    /// (or the one the HttpClient's default headers carry).</param>
    public ClusterNodeClient(HttpClient httpClient, string? bearerToken = null)
        : this(httpClient, ownsHttp: false, httpClient?.BaseAddress ?? throw new ArgumentException(
            "the HttpClient needs a BaseAddress, the node's URL (e.g. http://127.0.0.1:8080/)", nameof(httpClient)), bearerToken)
    {
    }

    /// <summary>
    /// A client of the node at <paramref name="baseAddress"/>, over an HttpClient of its own (disposed with it) with no
    /// overall timeout, since a large blob may take long: bound a call with its CancellationToken.
    /// </summary>
    /// <param name="baseAddress">The node's URL, e.g. <c>http://127.0.0.1:8080/</c>.</param>
    /// <param name="bearerToken">A token of the node's <c>cluster-node.http.tokens</c>, sent on every request; null: none.</param>
    public ClusterNodeClient(Uri baseAddress, string? bearerToken = null)
        : this(new HttpClient { Timeout = Timeout.InfiniteTimeSpan }, ownsHttp: true, baseAddress, bearerToken)
    {
    }

    private ClusterNodeClient(HttpClient http, bool ownsHttp, Uri baseAddress, string? bearerToken)
    {
        ArgumentNullException.ThrowIfNull(baseAddress);
        if (!baseAddress.IsAbsoluteUri) throw new ArgumentException($"the node's URL must be absolute, not '{baseAddress}'", nameof(baseAddress));
        if (bearerToken is { Length: 0 } || bearerToken?.Any(char.IsWhiteSpace) == true)
            throw new ArgumentException("a bearer token is a non-empty string without spaces", nameof(bearerToken));
        _http = http;
        _ownsHttp = ownsHttp;
        // With a trailing slash, "tables/..." resolves below a path prefix (http://proxy/node1/) instead of replacing it.
        _base = baseAddress.AbsoluteUri.EndsWith('/') ? baseAddress : new Uri(baseAddress.AbsoluteUri + "/");
        _token = bearerToken;
    }

    /// <summary>How record data is serialized and deserialized; JSON web defaults (camelCase) unless set.</summary>
    public JsonSerializerOptions JsonOptions { get; init; } = JsonSerializerOptions.Web;

    /// <summary>The node's URL.</summary>
    public Uri BaseAddress => _base;

    // ---------------------------------------------------------------- records

    /// <summary>
    /// Creates or replaces the data of record <paramref name="id"/> (the record's blobs stay). Answers once the write is
    /// durable on the node, with the record as stored.
    /// </summary>
    /// <param name="table">The table: 1 to 128 letters, digits, <c>-</c>, <c>_</c> or <c>.</c>; so are ids and fields.</param>
    /// <param name="id">The record's id.</param>
    /// <param name="data">Serialized with <see cref="JsonOptions"/>; must be a JSON object (a <see cref="JsonElement"/> or JsonNode is sent as it is).</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="BadRequestException">A name is not valid, or the data is not a JSON object.</exception>
    /// <exception cref="TooLargeException">The data is over the node's <c>cluster-node.record.max-size</c>.</exception>
    /// <exception cref="UnavailableException">The node refuses writes for now (its clock); retry later.</exception>
    public async Task<Record> PutRecordAsync<T>(string table, string id, T data, CancellationToken cancellationToken = default)
    {
        using var request = Request(HttpMethod.Put, RecordPath(table, id));
        request.Content = DataContent(data);
        return await SendForJsonAsync<Record>(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Creates or replaces record <paramref name="id"/> with its data and the given blobs in one request and one version
    /// (multipart/form-data): all of it is written, durably, or nothing is. Each blob is streamed from its stream, never
    /// held whole; the record's other blob fields stay. The node's sha256 of each blob is checked against the bytes sent.
    /// </summary>
    /// <exception cref="BlobIntegrityException">The node stored a blob whose sha256 is not that of the bytes sent.</exception>
    /// <exception cref="TooLargeException">A blob or the data is over a limit, or there are more blob fields than the node allows.</exception>
    public async Task<Record> PutRecordAsync<T>(string table, string id, T data, IEnumerable<BlobUpload> blobs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(blobs);
        using var form = new MultipartFormDataContent { { DataContent(data), "data" } };
        var sent = new List<(string Field, BlobContent Content)>();
        foreach (var blob in blobs)
        {
            CheckName(blob.Field, "blob field");
            var content = new BlobContent(blob.Content);
            sent.Add((blob.Field, content));
            form.Add(content, blob.Field, blob.Field);
        }
        using var request = Request(HttpMethod.Put, RecordPath(table, id));
        request.Content = form;
        var record = await SendForJsonAsync<Record>(request, cancellationToken).ConfigureAwait(false);
        foreach (var (field, content) in sent) CheckStored(record, table, id, field, content);
        return record;
    }

    /// <summary>The record, with its data and its blobs' sizes and hashes.</summary>
    /// <exception cref="NotFoundException">There is no such record (or it was deleted).</exception>
    public async Task<Record> GetRecordAsync(string table, string id, CancellationToken cancellationToken = default)
    {
        using var request = Request(HttpMethod.Get, RecordPath(table, id));
        return await SendForJsonAsync<Record>(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The record, or null when there is none.</summary>
    public async Task<Record?> FindRecordAsync(string table, string id, CancellationToken cancellationToken = default)
    {
        try
        {
            return await GetRecordAsync(table, id, cancellationToken).ConfigureAwait(false);
        }
        catch (NotFoundException e) when (e is not BlobLostException)
        {
            return null;
        }
    }

    /// <summary>Deletes the record and its blobs (replicated to every member); answers once the delete is durable.</summary>
    /// <exception cref="NotFoundException">There is no such record.</exception>
    public async Task DeleteRecordAsync(string table, string id, CancellationToken cancellationToken = default)
    {
        using var request = Request(HttpMethod.Delete, RecordPath(table, id));
        using var response = await SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The node's tables, by name.</summary>
    public async Task<IReadOnlyList<string>> ListTablesAsync(CancellationToken cancellationToken = default)
    {
        using var request = Request(HttpMethod.Get, "tables");
        return await SendForJsonAsync<List<string>>(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Every record of <paramref name="table"/>, sorted by id: its id, version and blobs' sha256. With
    /// <paramref name="deep"/>, each blob's entry is what the node's file holds now (hashed again): its sha256 when right,
    /// else <c>missing</c>, <c>corrupt</c> or <c>lost</c>, and a damaged file's repair begins.
    /// </summary>
    public async Task<IReadOnlyList<DigestEntry>> GetDigestAsync(string table, bool deep = false, CancellationToken cancellationToken = default)
    {
        CheckName(table, "table");
        using var request = Request(HttpMethod.Get, $"tables/{Escape(table)}/digest{(deep ? "?deep=true" : "")}");
        return await SendForJsonAsync<List<DigestEntry>>(request, cancellationToken).ConfigureAwait(false);
    }

    // ---------------------------------------------------------------- batches

    /// <summary>
    /// Writes <paramref name="records"/> to <paramref name="table"/> as one atomic, durable transaction (a JSON array,
    /// serialized as it is sent): all are written or none. Each record's data replaces that record's data.
    /// </summary>
    /// <returns>Each record's id, version and sequence, in the order sent.</returns>
    /// <exception cref="BadRequestException">An item is bad (its id, its data, an id twice): the message names it; nothing was written.</exception>
    /// <exception cref="TooLargeException">The batch is over <c>cluster-node.http.max-batch-bytes</c> or <c>max-batch-records</c>.</exception>
    public async Task<IReadOnlyList<WrittenRecord>> WriteBatchAsync<T>(string table, IEnumerable<BatchRecord<T>> records, CancellationToken cancellationToken = default)
    {
        CheckName(table, "table");
        ArgumentNullException.ThrowIfNull(records);
        using var request = Request(HttpMethod.Post, $"tables/{Escape(table)}/records");
        request.Content = JsonContent.Create(records.ToList(), options: JsonOptions);
        return (await SendForJsonAsync<BatchAnswer>(request, cancellationToken).ConfigureAwait(false)).Records;
    }

    /// <summary>
    /// Writes <paramref name="records"/> with <paramref name="blobs"/> (each naming one of the records by id) as one
    /// atomic, durable transaction: every blob is streamed to the node and made durable, then every record is written
    /// naming them, or nothing is (no record, no blob file). Each record's data replaces its data and each blob its field;
    /// the records' other blob fields stay.
    /// </summary>
    /// <returns>Each record's id, version and sequence, in the order sent.</returns>
    public async Task<IReadOnlyList<WrittenRecord>> WriteBatchAsync<T>(string table, IEnumerable<BatchRecord<T>> records, IEnumerable<BatchBlob> blobs,
        CancellationToken cancellationToken = default)
    {
        CheckName(table, "table");
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(blobs);
        // The node reads the part "records" first, then the blobs, each named {id}/{field}.
        using var form = new MultipartFormDataContent { { JsonContent.Create(records.ToList(), options: JsonOptions), "records" } };
        foreach (var blob in blobs)
        {
            CheckName(blob.Id, "record id");
            CheckName(blob.Field, "blob field");
            form.Add(new BlobContent(blob.Content), $"{blob.Id}/{blob.Field}", blob.Field);
        }
        using var request = Request(HttpMethod.Post, $"tables/{Escape(table)}/records");
        request.Content = form;
        return (await SendForJsonAsync<BatchAnswer>(request, cancellationToken).ConfigureAwait(false)).Records;
    }

    // ---------------------------------------------------------------- blobs

    /// <summary>
    /// Uploads blob <paramref name="field"/> of record <paramref name="id"/> from <paramref name="content"/> (read from
    /// its position to its end, a piece at a time; never held whole), creating the record if there is none. Answers once
    /// the blob and the record naming it are durable, after checking that the node stored the sha256 of the bytes sent.
    /// Cancelled before the node answered, nothing is stored.
    /// </summary>
    /// <param name="table">The table.</param>
    /// <param name="id">The record's id.</param>
    /// <param name="field">The blob's field.</param>
    /// <param name="content">The blob's bytes; a seekable stream also lets the node refuse an oversized blob before
    /// reading it (its length is sent). Not disposed by the client.</param>
    /// <param name="cancellationToken">Cancels the upload; the node then stores nothing of it.</param>
    /// <exception cref="BlobIntegrityException">The node stored a sha256 other than that of the bytes sent.</exception>
    /// <exception cref="TooLargeException">The blob is over <c>cluster-node.blob.max-size</c>, or the record has all the blob fields it may have.</exception>
    /// <exception cref="InsufficientStorageException">The node's disk is full.</exception>
    public async Task<Record> PutBlobAsync(string table, string id, string field, Stream content, CancellationToken cancellationToken = default)
    {
        var blob = new BlobContent(content);
        using var request = Request(HttpMethod.Put, BlobPath(table, id, field));
        request.Content = blob;
        // The node refuses a blob over its limit (or one field too many) from the headers alone: with 100-continue the
        // bytes are sent only once it has not, instead of a whole large blob being uploaded to be thrown away.
        request.Headers.ExpectContinue = true;
        var record = await SendForJsonAsync<Record>(request, cancellationToken).ConfigureAwait(false);
        CheckStored(record, table, id, field, blob);
        return record;
    }

    /// <summary>
    /// Blob <paramref name="field"/> of record <paramref name="id"/> as a stream the caller reads (and disposes), verified
    /// against the blob's sha256 as it streams: the read that would complete the blob throws
    /// <see cref="BlobIntegrityException"/> instead when the bytes are not right or the body was cut short.
    /// </summary>
    /// <exception cref="NotFoundException">No such record, or it has no such blob.</exception>
    /// <exception cref="BlobLostException">No member of the cluster holds the blob's bytes any more.</exception>
    /// <exception cref="UnavailableException">This node has the record but not yet the blob's bytes (on their way, or being repaired): retry after <see cref="UnavailableException.RetryAfter"/>.</exception>
    public async Task<BlobDownload> GetBlobAsync(string table, string id, string field, CancellationToken cancellationToken = default)
    {
        using var request = Request(HttpMethod.Get, BlobPath(table, id, field));
        var response = await SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        try
        {
            var name = $"blob {field} of {table}/{id}";
            var sha256 = ReprDigestSha256(response)
                ?? throw new ClusterNodeException(response.StatusCode, $"{name}: the node's answer has no Repr-Digest sha-256, so its bytes cannot be verified");
            var length = response.Content.Headers.ContentLength
                ?? throw new ClusterNodeException(response.StatusCode, $"{name}: the node's answer has no Content-Length");
            var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            return new BlobDownload(response, body, length, sha256, name);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Copies blob <paramref name="field"/> of record <paramref name="id"/> into <paramref name="destination"/>, verified
    /// as it streams (see <see cref="GetBlobAsync"/>). On any exception, what was written to the destination is not the
    /// blob and must be discarded.
    /// </summary>
    /// <returns>The blob's size and sha256.</returns>
    public async Task<BlobInfo> DownloadBlobAsync(string table, string id, string field, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        await using var download = await GetBlobAsync(table, id, field, cancellationToken).ConfigureAwait(false);
        await download.CopyToAsync(destination, 64 * 1024, cancellationToken).ConfigureAwait(false);
        return new BlobInfo(download.Length, download.Sha256);
    }

    // ---------------------------------------------------------------- the node

    /// <summary>The node's id, members and, per peer, how far replication is (<c>GET /status</c>).</summary>
    /// <exception cref="UnavailableException">The node's replication is restarting; ask again.</exception>
    public async Task<NodeStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        using var request = Request(HttpMethod.Get, "status");
        return await SendForJsonAsync<NodeStatus>(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The cluster's members as this node sees them.</summary>
    public async Task<IReadOnlyList<MemberInfo>> GetMembersAsync(CancellationToken cancellationToken = default)
    {
        using var request = Request(HttpMethod.Get, "members");
        return await SendForJsonAsync<List<MemberInfo>>(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Removes a dead member from the cluster (an operator's decision: nothing downs a member on its own). Needs an admin token.
    /// </summary>
    /// <param name="address">The member's address, e.g. <c>akka.tcp://cluster-node@127.0.0.1:4054</c>.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <exception cref="NotFoundException">It is not a member.</exception>
    public async Task DownMemberAsync(string address, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        using var request = Request(HttpMethod.Post, "members/down");
        request.Content = JsonContent.Create(new { address });
        using var response = await SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Whether the node is ready (<c>GET /health/ready</c>: an Up cluster member with its store open), and each check
    /// with why; a node that is not ready is an answer here, not an exception. Needs no token.
    /// </summary>
    public async Task<NodeHealth> GetHealthAsync(CancellationToken cancellationToken = default)
    {
        using var request = Request(HttpMethod.Get, "health/ready");
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        // 503 is how the node says "not ready", with the same JSON report.
        if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable)) throw await ErrorAsync(response, cancellationToken).ConfigureAwait(false);
        return await ReadJsonAsync<NodeHealth>(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Whether the node's process serves HTTP (<c>GET /health/live</c>). Needs no token.</summary>
    /// <exception cref="HttpRequestException">The node could not be reached.</exception>
    public async Task<bool> IsLiveAsync(CancellationToken cancellationToken = default)
    {
        using var request = Request(HttpMethod.Get, "health/live");
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        return response.IsSuccessStatusCode;
    }

    /// <summary>Disposes the HttpClient if this client made it (not one passed in).</summary>
    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }

    // ---------------------------------------------------------------- plumbing

    private sealed record BatchAnswer(List<WrittenRecord> Records);

    /// <summary>
    /// A record's data serialized whole (a record is at most <c>cluster-node.record.max-size</c>, 16 MiB at the very
    /// most): sent with its Content-Length rather than chunked.
    /// </summary>
    private ByteArrayContent DataContent<T>(T data)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(data, JsonOptions));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        return content;
    }

    private HttpRequestMessage Request(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, new Uri(_base, path));
        // Per request, not in the HttpClient's default headers: an IHttpClientFactory client may be shared.
        if (_token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        return request;
    }

    /// <summary>Sends; a non-success answer becomes the typed exception for its status, carrying the node's message.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        var response = await _http.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode) return response;
        using (response) throw await ErrorAsync(response, cancellationToken).ConfigureAwait(false);
    }

    private async Task<T> SendForJsonAsync<T>(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        return await ReadJsonAsync<T>(response, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<T> ReadJsonAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync<T>(JsonSerializerOptions.Web, cancellationToken).ConfigureAwait(false)
                ?? throw new ClusterNodeException(response.StatusCode, $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath}: the node answered null");
        }
        catch (JsonException e)
        {
            throw new ClusterNodeException(response.StatusCode,
                $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath}: the node's answer is not the JSON expected: {e.Message}", e);
        }
    }

    /// <summary>The exception for a refusal: the node's <c>{"error"}</c> message (or its body, or the status) and its status.</summary>
    internal static async Task<ClusterNodeException> ErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = response.StatusCode;
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var message = NodeMessage(body) ?? $"{(int)status} {response.ReasonPhrase}{(body.Length == 0 ? "" : ": " + (body.Length > 500 ? body[..500] + "..." : body))}";
        return (int)status switch
        {
            400 or 415 or 416 => new BadRequestException(status, message),
            401 => new UnauthorizedException(status, message),
            403 => new ForbiddenException(status, message),
            404 => new NotFoundException(status, message),
            410 => new BlobLostException(status, message),
            413 or 422 => new TooLargeException(status, message),
            503 => new UnavailableException(status, message, RetryAfter(response)),
            507 => new InsufficientStorageException(status, message),
            _ => new ClusterNodeException(status, message),
        };
    }

    private static string? NodeMessage(string body)
    {
        if (body.Length == 0) return null;
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String
                ? error.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response) => response.Headers.RetryAfter switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };

    /// <summary>The sha256 of <c>Repr-Digest: sha-256=:&lt;base64&gt;:</c> (RFC 9530, possibly among other algorithms), or null.</summary>
    internal static byte[]? ReprDigestSha256(HttpResponseMessage response)
    {
        if (!response.Headers.TryGetValues("Repr-Digest", out var values)) return null;
        foreach (var member in values.SelectMany(v => v.Split(',')))
        {
            var equals = member.IndexOf('=');
            if (equals < 0 || !member[..equals].Trim().Equals("sha-256", StringComparison.OrdinalIgnoreCase)) continue;
            var value = member[(equals + 1)..].Trim();
            if (value.Length < 2 || value[0] != ':' || value[^1] != ':') return null;
            try
            {
                var sha = Convert.FromBase64String(value[1..^1]);
                return sha.Length == 32 ? sha : null;
            }
            catch (FormatException)
            {
                return null;
            }
        }
        return null;
    }

    /// <summary>The node's record must name, for <paramref name="field"/>, exactly the bytes sent.</summary>
    private static void CheckStored(Record record, string table, string id, string field, BlobContent sent)
    {
        var expected = Convert.ToHexStringLower(sent.Sha256 ?? throw new InvalidOperationException($"blob {field} was not sent whole"));
        if (!record.Blobs.TryGetValue(field, out var stored) || stored.Sha256 != expected || stored.Size != sent.SentBytes)
            throw new BlobIntegrityException(HttpStatusCode.OK,
                $"blob {field} of {table}/{id}: the node stored {(stored is null ? "no such blob" : $"{stored.Size} bytes with sha256 {stored.Sha256}")}, " +
                $"but {sent.SentBytes} bytes with sha256 {expected} were sent", expected, stored?.Sha256);
    }

    private static string RecordPath(string table, string id)
    {
        CheckName(table, "table");
        CheckName(id, "record id");
        return $"tables/{Escape(table)}/records/{Escape(id)}";
    }

    private static string BlobPath(string table, string id, string field)
    {
        CheckName(field, "blob field");
        return $"{RecordPath(table, id)}/blobs/{Escape(field)}";
    }

    /// <summary>
    /// Only what would change which route a request goes to is refused here; the node checks the rest of a name
    /// (SPEC: 1 to 128 letters, digits, '-', '_', '.') and answers a <see cref="BadRequestException"/> naming it.
    /// </summary>
    private static void CheckName(string name, string what)
    {
        ArgumentNullException.ThrowIfNull(name, what);
        if (name.Length == 0 || name is "." or ".." || name.Contains('/'))
            throw new ArgumentException($"{what} '{name}' is not a name (1 to 128 letters, digits, '-', '_' and '.', not '.' or '..')", what);
    }

    private static string Escape(string name) => Uri.EscapeDataString(name);
}
