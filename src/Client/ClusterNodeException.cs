using System.Net;

namespace ClusterNode.Client;

/// <summary>
/// The node refused a request, or answered something this client could not accept as the whole, verified answer.
/// <see cref="StatusCode"/> is the HTTP status the node answered with; <see cref="Exception.Message"/> is the node's own
/// <c>{"error"}</c> text when it gave one (it names what was wrong). Subclasses are the cases a caller handles differently.
/// </summary>
public class ClusterNodeException : Exception
{
    /// <summary>A refusal or failed answer of the node.</summary>
    public ClusterNodeException(HttpStatusCode statusCode, string message, Exception? innerException = null)
        : base(message, innerException) => StatusCode = statusCode;

    /// <summary>The HTTP status the node answered with.</summary>
    public HttpStatusCode StatusCode { get; }
}

/// <summary>400 (also 415 and 416): the request was malformed (a name, a body, a batch item); the node names what and changed nothing.</summary>
public class BadRequestException(HttpStatusCode statusCode, string message) : ClusterNodeException(statusCode, message);

/// <summary>404: no such record, blob or route.</summary>
public class NotFoundException(HttpStatusCode statusCode, string message) : ClusterNodeException(statusCode, message);

/// <summary>
/// 410 Gone: the record names a blob whose bytes no member of the cluster holds any more. Retrying cannot help; it is a
/// <see cref="NotFoundException"/> so that code handling "no such blob" handles this too.
/// </summary>
public sealed class BlobLostException(HttpStatusCode statusCode, string message) : NotFoundException(statusCode, message);

/// <summary>401 or 403: the bearer token is missing or wrong, or lacks the role the request needs.</summary>
public abstract class AccessDeniedException(HttpStatusCode statusCode, string message) : ClusterNodeException(statusCode, message);

/// <summary>401: no bearer token, or one that is not among the node's <c>cluster-node.http.tokens</c>.</summary>
public sealed class UnauthorizedException(HttpStatusCode statusCode, string message) : AccessDeniedException(statusCode, message);

/// <summary>403: the token is valid but its role (read, write, admin) does not allow this request.</summary>
public sealed class ForbiddenException(HttpStatusCode statusCode, string message) : AccessDeniedException(statusCode, message);

/// <summary>
/// 413 (a record, blob or batch over a size or count limit) or 422 (more blob fields than a record may have): the
/// request must be made smaller; sending it again cannot succeed. Nothing was written.
/// </summary>
public sealed class TooLargeException(HttpStatusCode statusCode, string message) : ClusterNodeException(statusCode, message);

/// <summary>
/// 503: the node cannot answer now but will soon (a blob's bytes still on their way from a peer or being repaired, writes
/// refused while its clock is off, its replication restarting). Retry after <see cref="RetryAfter"/>.
/// </summary>
public sealed class UnavailableException(HttpStatusCode statusCode, string message, TimeSpan? retryAfter) : ClusterNodeException(statusCode, message)
{
    /// <summary>How long the node asked the client to wait (its <c>Retry-After</c>), or null when it did not say.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>507: the node's disk is full; nothing was stored, and retrying will not help until an operator makes room.</summary>
public sealed class InsufficientStorageException(HttpStatusCode statusCode, string message) : ClusterNodeException(statusCode, message);

/// <summary>
/// A blob's bytes did not arrive whole and verified: the body was cut short (the node aborts a response whose file fails
/// its sha256 check, or the connection broke), or the bytes do not hash to the sha256 the node announced (download) or
/// stored (upload). Whatever was read of the blob must be thrown away; a download may be tried again (the node repairs
/// a damaged file from a peer).
/// </summary>
public sealed class BlobIntegrityException : ClusterNodeException
{
    /// <summary>A blob that did not arrive whole and verified.</summary>
    public BlobIntegrityException(HttpStatusCode statusCode, string message, string? expectedSha256, string? actualSha256, Exception? innerException = null)
        : base(statusCode, message, innerException)
    {
        ExpectedSha256 = expectedSha256;
        ActualSha256 = actualSha256;
    }

    /// <summary>The sha256 (lowercase hex) the bytes should have had, when known.</summary>
    public string? ExpectedSha256 { get; }

    /// <summary>The sha256 (lowercase hex) of the bytes that did arrive, or null when the body was cut short.</summary>
    public string? ActualSha256 { get; }
}
