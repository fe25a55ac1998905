using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Akka.Actor;
using Akka.Cluster;
using ClusterNode.Actors;
using ClusterNode.Actors.Replication;
using ClusterNode.Persistence.Blobs;
using ClusterNode.Persistence.Records;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ClusterNode.Node.Http;

/// <summary>
/// The HTTP API of the SPEC. Bad input (a name, a body, a size, a route) gets a 4xx with a JSON <c>{"error"}</c>
/// saying what was wrong, and changes nothing. Blob bodies are streamed to and from disk, never held in memory.
/// </summary>
public static class HttpApi
{
    /// <summary>How long a client should wait before asking again for a blob whose bytes are still on their way.</summary>
    private const int RetryAfterSeconds = 1;

    /// <param name="current">The node's current incarnation: the store and settings stay, the ActorSystem may be replaced.</param>
    /// <param name="settings">The batch limits (<c>cluster-node.http.max-batch-*</c>); null: the defaults.</param>
    public static void Map(IEndpointRouteBuilder routes, Func<NodeRuntime> current, HttpSettings? settings = null)
    {
        var store = current().Store;
        settings ??= new HttpSettings("127.0.0.1", 0);
        // Uploads made durable in groups, the way the follower's blob flusher does it (cluster-node.blob.durability).
        var uploads = new BlobUploads(store.Blobs, syncFileSystem: current().Settings.BlobDurability == BlobDurability.Syncfs);
        routes.ServiceProvider.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.Register(uploads.Dispose);

        routes.MapPut("/tables/{table}/records/{id}", async (string table, string id, HttpRequest request) =>
        {
            if (NameProblem(table, id) is { } bad) return bad;
            // A record with its blobs in one request and one version (README: "one request for a record and its blobs").
            if (RecordWrites.IsMultipart(request)) return await RecordWrites.PutMultipart(store, uploads, table, id, request);
            // The store's limits, not the configured ones: the cluster may have tightened them to a smaller member's.
            var maxDataBytes = store.Limits.MaxDataBytes;
            var body = await ReadLimited(request.Body, maxDataBytes);
            if (body is null) return Error(413, $"record body is over cluster-node.record.max-size ({maxDataBytes} bytes)");
            if (RecordBodyProblem(body) is { } problem) return Error(400, problem);
            return await Write(() => store.PutDataAsync(table, id, body), write => Results.Json(RecordJson(write.Record)));
        });

        // A batch of records of one table: one atomic, durable transaction (README: "batch writes").
        // With blobs when multipart/form-data (a part "records", then one part "{id}/{field}" per blob), still all or none.
        routes.MapPost("/tables/{table}/records", (string table, HttpRequest request) =>
        {
            if (Names.Problem("table", table) is { } problem) return Task.FromResult(Error(400, problem));
            return RecordWrites.IsMultipart(request)
                ? RecordWrites.PostMultipartBatch(store, uploads, settings, table, request)
                : RecordWrites.PostBatch(store, settings, table, request);
        });

        routes.MapGet("/tables/{table}/records/{id}", (string table, string id) =>
        {
            if (NameProblem(table, id) is { } bad) return bad;
            var record = store.Get(table, id);
            return record is null or { Deleted: true } ? Error(404, $"no record {table}/{id}") : Results.Json(RecordJson(record));
        });

        routes.MapDelete("/tables/{table}/records/{id}", async (string table, string id) =>
        {
            if (NameProblem(table, id) is { } bad) return bad;
            return await Write(() => store.DeleteAsync(table, id), write => write is null ? Error(404, $"no record {table}/{id}") : Results.NoContent());
        });

        routes.MapPut("/tables/{table}/records/{id}/blobs/{field}", async (string table, string id, string field, HttpRequest request) =>
        {
            if (NameProblem(table, id, field) is { } bad) return bad;
            var maxBlobBytes = store.Limits.MaxBlobBytes;
            if (request.ContentLength > maxBlobBytes) return Error(413, $"blob is over cluster-node.blob.max-size ({maxBlobBytes} bytes)");
            // Refused before the body is read where the record as it stands already tells (a field too many), so a
            // client is not made to upload a large blob only to have it refused.
            if (store.PutBlobProblem(table, id, field, request.ContentLength ?? 0) is { } early) return Refused(early);
            BlobRef blob;
            try
            {
                using var writer = store.Blobs.BeginWrite(); // disposed unplaced, its temp file goes
                using var pooled = new UploadBuffer(UploadBufferBytes);
                var buffer = pooled.Array;
                int read;
                while ((read = await ReadFull(request.Body, buffer)) > 0)
                {
                    if (writer.Length + read > maxBlobBytes) return Error(413, $"blob is over cluster-node.blob.max-size ({maxBlobBytes} bytes)");
                    writer.Append(buffer.AsSpan(0, read));
                }
                blob = writer.Seal(field, BlobStore.NewFileId());
                // Its bytes, rename and directory entry made durable together with the other uploads of the moment.
                await uploads.MakeDurableAsync([writer]);
            }
            catch (IOException e) when (StoreFullException.IsOutOfDiskSpace(e) || StoreFullException.IsOutOfDiskSpace(e.InnerException ?? e))
            {
                return InsufficientStorage($"no space left for blob {field} of {table}/{id} on the disk of the blob files " +
                    "(under cluster-node.data-dir); nothing was stored");
            }
            return await Write(async () =>
            {
                try
                {
                    return await store.PutBlobAsync(table, id, blob);
                }
                catch (Exception e) when (e is RecordLimitExceededException or BlobBytesPendingException or StoreFullException or WritesRefusedException)
                {
                    // Refused before anything was written: the new file is nobody's, so it goes now rather than at
                    // the next start's orphan collection.
                    try { store.Blobs.Delete(blob.FileId); } catch (IOException) { }
                    throw;
                }
            }, write => Results.Json(RecordJson(write.Record)));
        });

        routes.MapGet("/tables/{table}/records/{id}/blobs/{field}", (string table, string id, string field) =>
        {
            if (NameProblem(table, id, field) is { } bad) return bad;
            var blob = store.Get(table, id) is { Deleted: false } record ? record.Blob(field) : null;
            if (blob is null) return Error(404, $"no blob {field} on record {table}/{id}");
            return new VerifiedBlobRead(store, table, id, blob);
        });

        // Not in the SPEC's list: `cluster-node verify` needs to know which tables to compare.
        routes.MapGet("/tables", () => Results.Json(store.Tables()));

        // ?deep=true: each blob's entry is what its file holds now (hashed now, or by a read or the scrub no longer ago
        // than maxAgeSeconds): its sha256 when right, else "missing", "corrupt" or "lost"; a damaged one is also
        // reported, so its repair starts.
        routes.MapGet("/tables/{table}/digest", async (string table, bool? deep, int? maxAgeSeconds, CancellationToken cancel) =>
        {
            if (Names.Problem("table", table) is { } problem) return Error(400, problem);
            if (maxAgeSeconds < 0) return Error(400, $"maxAgeSeconds must be 0 or more, not {maxAgeSeconds}");
            var maxAge = TimeSpan.FromSeconds(maxAgeSeconds ?? 0);
            var digest = new List<object>();
            byte[]? after = null;
            while (true)
            {
                var page = store.Scan(after, 1000, table);
                if (page.Count == 0) break;
                foreach (var record in page.Where(r => !r.Deleted))
                {
                    var blobs = new Dictionary<string, string>();
                    foreach (var blob in record.Blobs)
                        blobs[blob.Field] = deep == true ? await HeldBlob(record, blob, maxAge, cancel) : blob.Sha256Hex;
                    digest.Add(new { id = record.Id, version = record.Version.ToString(), blobs });
                }
                after = RecordCodec.Key(page[^1].Table, page[^1].Id);
            }
            return Results.Json(digest);
        });

        async Task<string> HeldBlob(StoredRecord record, BlobRef blob, TimeSpan maxAge, CancellationToken cancel)
        {
            if (store.LostBlob(blob.FileId) is not null) return "lost";
            var held = await store.Blobs.CheckAsync(blob, maxAge, cancel);
            if (held != "held") store.ReportDamagedBlob(record.Table, record.Id, blob, $"{held} (found by a deep verify)");
            return held == "held" ? blob.Sha256Hex : held;
        }

        routes.MapGet("/status", async () =>
        {
            var node = current();
            ReplicationHub.NodeStatus status;
            try
            {
                status = await node.StatusAsync();
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                // Between two ActorSystems (the last was removed, quarantined or split off): answer, and soon again.
                return RetryLater($"the node's replication is restarting: {e.Message}");
            }
            var scrub = await ScrubStatus(node);
            return Results.Json(new
            {
                nodeId = status.NodeId,
                lastSequence = status.LastSequence,
                writesRefused = status.WriteRefusal,
                members = Members(node),
                peers = status.Peers.Select(p => new
                {
                    peer = p.Peer,
                    address = p.Address.ToString(),
                    mode = p.Mode,
                    committed = p.Committed,
                    durable = p.Durable,
                    persistedCursor = p.PersistedCursor,
                    outstandingBlobs = p.OutstandingBlobs,
                    blobGap = p.BlobGap,
                    lag = Math.Max(0, p.PeerLastSequence - p.PersistedCursor),
                    // Frames and chunks of this peer's, since this node started: `status --watch` derives a byte rate from it.
                    receivedBytes = node.Metrics.Leg(p.Peer).BytesReceived,
                    lastProblem = p.LastProblem,
                    clockOffsetMs = status.ClockOffsetsMs?.GetValueOrDefault(p.Peer),
                }),
                blobRepair = status.Repair is { } repair ? new { repairing = repair.Repairing, repaired = repair.Repaired, lost = repair.Lost, unanswered = repair.Unanswered } : null,
                scrub,
            });
        });

        routes.MapGet("/health", () =>
        {
            var self = Cluster.Get(current().System).SelfMember.Status;
            return self == MemberStatus.Up ? Results.Json(new { status = "up" }) : Error(503, $"not an Up cluster member yet ({self})");
        });

        routes.MapGet("/members", () => Results.Json(Members(current())));

        // An operator's decision that a member is gone for good: nothing downs a member automatically.
        routes.MapPost("/members/down", async (HttpRequest request) =>
        {
            var body = await ReadLimited(request.Body, 4096);
            var (address, problem) = DownBody(body ?? []);
            if (address is null) return Error(400, problem!);
            var cluster = Cluster.Get(current().System);
            if (cluster.State.Members.All(m => m.Address != address)) return Error(404, $"{address} is not a member of this cluster");
            cluster.Down(address);
            return Results.Json(new { downed = address.ToString() });
        });

        routes.MapFallback((HttpRequest request) => Error(404, $"no route {request.Method} {request.Path}"));
    }

    /// <summary>The blob scrub's progress and findings (BlobScrub.Status), or null while its ActorSystem is being replaced.</summary>
    private static async Task<object?> ScrubStatus(NodeRuntime node)
    {
        try
        {
            var s = await node.ScrubStatusAsync(TimeSpan.FromSeconds(5));
            return new
            {
                running = s.Running,
                passesCompleted = s.PassesCompleted,
                pass = new { files = s.PassFiles, bytes = s.PassBytes, lastPassFiles = s.LastPassFiles, lastPassBytes = s.LastPassBytes, lastPassSeconds = s.LastPassDuration?.TotalSeconds },
                bytesHashed = s.BytesHashed,
                filesVerified = s.FilesVerified,
                missing = s.Missing,
                corrupt = s.Corrupt,
                lostSkipped = s.LostSkipped,
                orphansDeleted = s.OrphansDeleted,
                lastPassEndedAt = s.LastPassEndedAt,
                nextPassAt = s.NextPassAt,
            };
        }
        catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
        {
            return null;
        }
    }

    /// <summary>Every member with its status and whether this node can reach it now.</summary>
    private static object Members(NodeRuntime node)
    {
        var cluster = Cluster.Get(node.System);
        var state = cluster.State;
        return state.Members.Select(m => new
        {
            address = m.Address.ToString(),
            status = m.Status.ToString(),
            reachable = !state.Unreachable.Contains(m),
            self = m.Address == cluster.SelfAddress,
        });
    }

    private static IResult? NameProblem(string table, string id, string? field = null) =>
        (Names.Problem("table", table) ?? Names.Problem("record id", id) ?? (field is null ? null : Names.Problem("blob field", field))) is { } problem
            ? Error(400, problem)
            : null;

    /// <summary>A local write, with the one refusal a client is expected to retry and the ones it is not.</summary>
    internal static async Task<IResult> Write<T>(Func<Task<T>> write, Func<T, IResult> ok)
    {
        try
        {
            return ok(await write());
        }
        catch (BatchItemRefusedException refused) when (refused.InnerException is BlobBytesPendingException or WritesRefusedException)
        {
            return RetryLater(refused.Message);
        }
        catch (BatchItemRefusedException refused) when (refused.InnerException is RecordLimitExceededException)
        {
            // A record of the batch over a limit is a bad item: 400 naming it, whatever the limit.
            return Error(400, refused.Message);
        }
        catch (BlobBytesPendingException pending)
        {
            return RetryLater(pending.Message);
        }
        catch (WritesRefusedException refused)
        {
            return RetryLater(refused.Message);
        }
        catch (RecordLimitExceededException refused)
        {
            return Refused(refused.Violation);
        }
        catch (StoreFullException full)
        {
            return InsufficientStorage(full.Message);
        }
    }

    /// <summary>The address a <c>/members/down</c> body names, or why it names none (for a 400).</summary>
    internal static (Akka.Actor.Address? Address, string? Problem) DownBody(byte[] body)
    {
        string? text;
        try
        {
            using var json = JsonDocument.Parse(body);
            text = json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("address", out var a) && a.ValueKind == JsonValueKind.String
                ? a.GetString()
                : null;
        }
        catch (JsonException e)
        {
            return (null, $"body is not valid JSON: {e.Message}");
        }
        catch (InvalidOperationException e)
        {
            // JsonDocument lets invalid UTF-8 inside a string through, and GetString then throws (found by fuzzing: it
            // was a 500); so does an escape that is no valid Unicode, such as a lone \ud800.
            return (null, $"body's address is not valid UTF-8 or Unicode: {e.Message}");
        }
        if (text is null) return (null, "body must be a JSON object with \"address\", e.g. {\"address\": \"akka.tcp://cluster-node@127.0.0.1:4054\"}");
        try
        {
            return (Akka.Actor.Address.Parse(text), null);
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
        {
            return (null, $"'{text}' is not a member address such as akka.tcp://cluster-node@127.0.0.1:4054");
        }
    }

    /// <summary>
    /// Why a record body cannot be stored as it is, or null: it must be UTF-8 throughout (JSON's own parser lets invalid
    /// bytes through, and they would be read back as U+FFFD), valid JSON, an object, and every escaped string valid
    /// Unicode (a lone surrogate such as \ud800 parses but cannot be written out again, so the record would be unreadable).
    /// </summary>
    internal static string? RecordBodyProblem(byte[] body)
    {
        if (InvalidUtf8At(body) is { } offset)
            return $"record body is not valid UTF-8: the byte sequence at offset {offset} (starting 0x{body[offset]:X2}) is not UTF-8";
        try
        {
            using var json = JsonDocument.Parse(body);
            if (json.RootElement.ValueKind != JsonValueKind.Object) return $"record body must be a JSON object, not {json.RootElement.ValueKind}";
        }
        catch (JsonException e)
        {
            return $"record body is not valid JSON: {e.Message}";
        }
        var reader = new Utf8JsonReader(body);
        while (reader.Read())
        {
            if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName) || !reader.ValueIsEscaped) continue;
            try
            {
                reader.GetString();
            }
            catch (InvalidOperationException e)
            {
                return $"record body has a string at offset {reader.TokenStartIndex} whose escapes are not valid Unicode: {e.Message}";
            }
        }
        return null;
    }

    /// <summary>The offset of the first byte that is not part of a valid UTF-8 sequence, or null when all are.</summary>
    private static int? InvalidUtf8At(ReadOnlySpan<byte> bytes)
    {
        if (Utf8.IsValid(bytes)) return null;
        var offset = 0;
        while (Rune.DecodeFromUtf8(bytes[offset..], out _, out var consumed) == OperationStatus.Done) offset += consumed;
        return offset;
    }

    /// <summary>A record over a limit: 413 for a size, 422 for one blob field too many, 400 for a bad name.</summary>
    internal static IResult Refused(RecordLimitViolation violation) => Error(violation.Kind switch
    {
        RecordLimitKind.BlobFields => 422,
        RecordLimitKind.Name => 400,
        _ => 413,
    }, violation.Message);

    /// <summary>Bytes of an upload written to its file at once.</summary>
    internal const int UploadBufferBytes = 64 * 1024;

    /// <summary>
    /// Reads until <paramref name="buffer"/> is full or the body ends: Kestrel hands bodies over in pieces of a few KiB,
    /// and a write (and hash step) per piece costs more CPU than the bytes.
    /// </summary>
    internal static async Task<int> ReadFull(Stream body, byte[] buffer)
    {
        var filled = 0;
        int read;
        while (filled < buffer.Length && (read = await body.ReadAsync(buffer.AsMemory(filled))) > 0) filled += read;
        return filled;
    }

    /// <summary>The body if it is at most <paramref name="maxBytes"/>, else null; never reads more than one byte past.</summary>
    internal static async Task<byte[]?> ReadLimited(Stream body, int maxBytes)
    {
        using var buffer = new MemoryStream();
        using var pooled = new UploadBuffer(16384);
        var chunk = pooled.Array;
        int read;
        while ((read = await body.ReadAsync(chunk)) > 0)
        {
            if (buffer.Length + read > maxBytes) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    internal static object RecordJson(StoredRecord record) => new
    {
        id = record.Id,
        version = record.Version.ToString(),
        data = JsonSerializer.Deserialize<JsonElement>(record.Data),
        blobs = record.Blobs.ToDictionary(b => b.Field, b => new { size = b.Size, sha256 = b.Sha256Hex }),
    };

    internal static IResult Error(int status, string message) => Results.Json(new { error = message }, statusCode: status);

    /// <summary>507 Insufficient Storage: no room for the write until an operator makes some; retrying alone cannot help.</summary>
    internal static IResult InsufficientStorage(string message) => Error(StatusCodes.Status507InsufficientStorage, message);

    /// <summary>503 with Retry-After: this node cannot answer now but will soon (bytes on their way or being repaired, a restart).</summary>
    internal static IResult RetryLater(string message) => new RetryLaterResult(Error(503, message));

    private sealed class RetryLaterResult(IResult inner) : IResult
    {
        public Task ExecuteAsync(HttpContext context)
        {
            context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString();
            return inner.ExecuteAsync(context);
        }
    }
}
