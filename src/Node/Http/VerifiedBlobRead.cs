using System.Buffers;
using System.Security.Cryptography;
using ClusterNode.Persistence.Records;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace ClusterNode.Node.Http;

/// <summary>
/// The answer to a blob GET: its bytes, verified against the record's sha256, never wrong bytes with a success status.
/// A full read hashes the file as it streams it and holds back the last buffer until the hash is known: on a mismatch
/// that piece is never sent and the connection is aborted, so a client sees a body shorter than its Content-Length
/// (or, when nothing was sent yet, a plain 503). A Range read cannot hash as it goes, so it is served only from a file
/// hashed whole before (by a full read or the scrub), or hashed whole now. A file found missing or wrong is reported
/// to the store, whose repair fetches it from a peer.
/// </summary>
internal sealed class VerifiedBlobRead(RecordStore store, string table, string id, BlobRef blob) : IResult
{
    /// <summary>The piece read, hashed and sent at a time: the most held back before the hash is known.</summary>
    private const int BufferBytes = 64 * 1024;

    private string ETag => $"\"{blob.Sha256Hex}\"";

    private string Name => $"blob {blob.Field} of {table}/{id} (file {blob.FileId})";

    public async Task ExecuteAsync(HttpContext context)
    {
        var request = context.Request;
        // The record names the bytes by their hash: a client holding that representation needs nothing more, whatever
        // state this node's file is in.
        if (NoneMatch(request))
        {
            SetRepresentationHeaders(context.Response);
            context.Response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }
        var range = ByteRange.Parse(request.Headers.Range, blob.Size);
        if (range.Kind == ByteRange.RangeKind.Single && !IfRangeHolds(request)) range = ByteRange.Whole;
        if (range.Kind is ByteRange.RangeKind.Unsatisfiable or ByteRange.RangeKind.Invalid)
        {
            context.Response.Headers.ContentRange = $"bytes */{blob.Size}";
            await HttpApi.Error(StatusCodes.Status416RangeNotSatisfiable, range.Problem!).ExecuteAsync(context);
            return;
        }

        var file = store.Blobs.TryOpenRead(blob.FileId);
        if (file is null || file.Length != blob.Size)
        {
            var problem = file is null ? "missing" : $"{file.Length} bytes on disk, {blob.Size} expected";
            file?.Dispose();
            await Unavailable(problem).ExecuteAsync(context);
            return;
        }
        await using (file)
        {
            try
            {
                if (range.Kind == ByteRange.RangeKind.Single) await ServeRange(context, file, range.First, range.Last);
                else await ServeWhole(context, file);
            }
            catch (Exception e) when (context.RequestAborted.IsCancellationRequested && e is OperationCanceledException or IOException)
            {
                // The client went away: nothing was wrong with the file.
            }
        }
    }

    private async Task ServeWhole(HttpContext context, FileStream file)
    {
        var response = context.Response;
        var written = File.GetLastWriteTimeUtc(file.SafeFileHandle);
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/octet-stream";
        response.ContentLength = blob.Size;
        SetRepresentationHeaders(response);

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var held = ArrayPool<byte>.Shared.Rent(BufferBytes);
        var next = ArrayPool<byte>.Shared.Rent(BufferBytes);
        string? problem = null;
        try
        {
            var heldCount = 0;
            var remaining = blob.Size;
            while (remaining > 0)
            {
                int read;
                try
                {
                    read = await file.ReadAsync(next.AsMemory(0, (int)Math.Min(BufferBytes, remaining)), context.RequestAborted);
                }
                catch (IOException e) when (!context.RequestAborted.IsCancellationRequested)
                {
                    problem = $"unreadable: {e.Message}";
                    break;
                }
                if (read == 0) break;
                hash.AppendData(next, 0, read);
                remaining -= read;
                // What was read before is sent only now that more has come: the last piece waits for the hash.
                if (heldCount > 0) await response.Body.WriteAsync(held.AsMemory(0, heldCount), context.RequestAborted);
                (held, next) = (next, held);
                heldCount = read;
            }
            problem ??= remaining > 0
                ? $"ended after {blob.Size - remaining} of {blob.Size} bytes"
                : hash.GetHashAndReset().AsSpan().SequenceEqual(blob.Sha256) ? null : "its bytes do not hash to the record's sha256";
            if (problem is null)
            {
                if (heldCount > 0) await response.Body.WriteAsync(held.AsMemory(0, heldCount), context.RequestAborted);
                MarkVerified(written);
                return;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(held);
            ArrayPool<byte>.Shared.Return(next);
        }

        if (!response.HasStarted)
        {
            // Nothing sent yet (the blob fit the held-back piece): a proper answer is still possible.
            ReportDamage(problem, written);
            response.Headers.Clear();
            await RetryLater($"{Name} failed its sha256 check on this node and is being repaired from a peer").ExecuteAsync(context);
            return;
        }
        // Part of the body is on its way: only cutting the connection keeps a client from taking it as complete. The
        // damage is reported first, so the repair has begun by the time the client sees the cut.
        ReportDamage(problem, written);
        context.Abort();
    }

    private async Task ServeRange(HttpContext context, FileStream file, long first, long last)
    {
        var written = File.GetLastWriteTimeUtc(file.SafeFileHandle);
        if (!store.Blobs.IsVerified(blob))
        {
            var problem = await HashWhole(file, context.RequestAborted);
            if (problem is not null)
            {
                ReportDamage(problem, written);
                await RetryLater($"{Name} failed its sha256 check on this node and is being repaired from a peer").ExecuteAsync(context);
                return;
            }
            MarkVerified(written);
        }
        var response = context.Response;
        var length = last - first + 1;
        response.StatusCode = StatusCodes.Status206PartialContent;
        response.ContentType = "application/octet-stream";
        response.ContentLength = length;
        response.Headers.ContentRange = $"bytes {first}-{last}/{blob.Size}";
        SetRepresentationHeaders(response);
        file.Position = first;
        var buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
        try
        {
            while (length > 0)
            {
                var read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(BufferBytes, length)), context.RequestAborted);
                if (read == 0)
                {
                    // Shrunk since it was verified: the promised length cannot be kept.
                    context.Abort();
                    return;
                }
                await response.Body.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted);
                length -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Hashes the whole file without holding it: null if it is right, else what is wrong.</summary>
    private async Task<string?> HashWhole(FileStream file, CancellationToken cancel)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
        try
        {
            var remaining = blob.Size;
            while (remaining > 0)
            {
                var read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(BufferBytes, remaining)), cancel);
                if (read == 0) return $"ended after {blob.Size - remaining} of {blob.Size} bytes";
                hash.AppendData(buffer, 0, read);
                remaining -= read;
            }
            return hash.GetHashAndReset().AsSpan().SequenceEqual(blob.Sha256) ? null : "its bytes do not hash to the record's sha256";
        }
        catch (IOException e) when (!cancel.IsCancellationRequested)
        {
            return $"unreadable: {e.Message}";
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// No usable file: 410 Gone if the repair found that no member holds the bytes any more; otherwise they are on
    /// their way (a replicated record's blob still streaming) or to be repaired, and the report starts the repair.
    /// </summary>
    private IResult Unavailable(string problem)
    {
        if (store.LostBlob(blob.FileId) is { } lost)
        {
            return Results.Json(new
            {
                error = $"{Name} is lost: no member holds its bytes any more ({lost.Reason})",
                table,
                id,
                field = blob.Field,
                fileId = blob.FileId,
                sha256 = blob.Sha256Hex,
                lostAtMs = lost.LostAtMs,
            }, statusCode: StatusCodes.Status410Gone);
        }
        // Unless it arrived meanwhile (the stream or the repair placed it): then the client's retry finds it.
        if (!store.Blobs.IsPresent(blob)) ReportDamage(problem, writtenUtc: null);
        return RetryLater($"the bytes of {Name} are not on this node yet: on their way from a peer, or being repaired");
    }

    private static IResult RetryLater(string message) => HttpApi.RetryLater(message);

    /// <summary>
    /// Reports the damage, unless the record moved on meanwhile (a new version names another file: this one was
    /// replaced, not damaged) or the file was replaced since it was opened (<paramref name="writtenUtc"/>).
    /// </summary>
    private void ReportDamage(string problem, DateTime? writtenUtc)
    {
        var current = store.Get(table, id) is { Deleted: false } record ? record.Blob(blob.Field) : null;
        if (current is null || !current.SameContentAs(blob)) return;
        if (writtenUtc is { } written && WrittenUtc() is { } now && now != written) return;
        store.Blobs.ForgetVerified(blob.FileId);
        store.ReportDamagedBlob(table, id, blob, $"{problem} (found by a read)");
    }

    /// <summary>Only if the file at the path is still the one hashed: another may have been renamed over it meanwhile.</summary>
    private void MarkVerified(DateTime writtenUtc)
    {
        if (WrittenUtc() == writtenUtc) store.Blobs.MarkVerified(blob);
    }

    private DateTime? WrittenUtc()
    {
        var info = new FileInfo(store.Blobs.PathOf(blob.FileId));
        return info.Exists ? info.LastWriteTimeUtc : null;
    }

    /// <summary>ETag and Repr-Digest (RFC 9530) name the whole representation, on 200, 206 and 304 alike.</summary>
    private void SetRepresentationHeaders(HttpResponse response)
    {
        response.Headers.ETag = ETag;
        response.Headers["Repr-Digest"] = $"sha-256=:{Convert.ToBase64String(blob.Sha256)}:";
        response.Headers.AcceptRanges = "bytes";
    }

    /// <summary>If-None-Match (weak comparison, as RFC 9110 has it for GET) names our ETag, or is "*".</summary>
    private bool NoneMatch(HttpRequest request)
    {
        if (request.Headers.IfNoneMatch.Count == 0) return false;
        var ours = new EntityTagHeaderValue(ETag);
        return request.GetTypedHeaders().IfNoneMatch.Any(tag => tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(ours, useStrongComparison: false));
    }

    /// <summary>If-Range holds only for our ETag compared strongly; a date (we give no Last-Modified) never holds.</summary>
    private bool IfRangeHolds(HttpRequest request)
    {
        if (request.Headers.IfRange.Count == 0) return true;
        return request.GetTypedHeaders().IfRange is { EntityTag: { } tag } && tag.Compare(new EntityTagHeaderValue(ETag), useStrongComparison: true);
    }
}

/// <summary>
/// A Range header (RFC 9110 section 14) against a representation of a known size: one byte range (first-last,
/// first- or -suffix) is served as 206; several ranges are answered with the whole body (200), which the RFC allows
/// and every client handles; a range unit other than bytes is ignored, as the RFC requires.
/// </summary>
internal readonly record struct ByteRange(ByteRange.RangeKind Kind, long First = 0, long Last = 0, string? Problem = null)
{
    public enum RangeKind { Whole, Single, Unsatisfiable, Invalid }

    public static readonly ByteRange Whole = new(RangeKind.Whole);

    public static ByteRange Parse(Microsoft.Extensions.Primitives.StringValues header, long size)
    {
        if (header.Count == 0) return Whole;
        if (header.Count > 1) return Whole; // several Range fields: several ranges
        var text = header[0]!.Trim();
        var equals = text.IndexOf('=');
        if (equals < 0) return Invalid(text, "it is not bytes=first-last, bytes=first- or bytes=-suffix");
        if (!text[..equals].Trim().Equals("bytes", StringComparison.OrdinalIgnoreCase)) return Whole;
        var spec = text[(equals + 1)..].Trim();
        if (spec.Contains(',')) return Whole;
        var dash = spec.IndexOf('-');
        if (dash < 0) return Invalid(text, "a byte range needs a '-'");
        var firstText = spec[..dash].Trim();
        var lastText = spec[(dash + 1)..].Trim();
        if (firstText.Length == 0)
        {
            if (!Number(lastText, out var suffix)) return Invalid(text, $"'{lastText}' is not a number of bytes");
            if (suffix == 0 || size == 0) return Unsatisfiable(text, size);
            return new ByteRange(RangeKind.Single, Math.Max(0, size - suffix), size - 1);
        }
        if (!Number(firstText, out var first)) return Invalid(text, $"'{firstText}' is not a byte position");
        var last = size - 1;
        if (lastText.Length > 0)
        {
            if (!Number(lastText, out last)) return Invalid(text, $"'{lastText}' is not a byte position");
            if (last < first) return Invalid(text, $"the last byte {last} is before the first {first}");
        }
        if (first >= size) return Unsatisfiable(text, size);
        return new ByteRange(RangeKind.Single, first, Math.Min(last, size - 1));
    }

    private static bool Number(string text, out long value) =>
        long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out value);

    private static ByteRange Invalid(string header, string why) => new(RangeKind.Invalid, Problem: $"Range '{Shorten(header)}' is not valid: {why}");

    private static ByteRange Unsatisfiable(string header, long size) =>
        new(RangeKind.Unsatisfiable, Problem: $"Range '{Shorten(header)}' is outside the blob's {size} bytes");

    private static string Shorten(string header) => header.Length <= 100 ? header : header[..100] + "...";
}
