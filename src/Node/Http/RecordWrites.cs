using System.Runtime.InteropServices;
using System.Text.Json;
using ClusterNode.Persistence.Blobs;
using ClusterNode.Persistence.Records;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using static ClusterNode.Node.Http.HttpApi;

namespace ClusterNode.Node.Http;

/// <summary>
/// The writes of several things in one request: a batch of records (<c>POST /tables/{table}/records</c>, a JSON array
/// or NDJSON of <c>{"id","data"}</c>) and a record with its blobs (<c>PUT</c> of multipart/form-data). Each is one
/// atomic, durable write; anything bad in it is refused, naming the item or part, before anything is written.
/// </summary>
internal static class RecordWrites
{
    // ---------------------------------------------------------------- batch

    /// <summary>
    /// Writes a batch: 200 with each record's id, version and sequence in request order; 400 naming the first bad item
    /// (by index and id) and nothing written; 413 for a batch over <c>max-batch-bytes</c> or <c>max-batch-records</c>.
    /// </summary>
    public static async Task<IResult> PostBatch(RecordStore store, HttpSettings settings, string table, HttpRequest request)
    {
        if (BatchFormat(request.ContentType, "a batch") is { Error: { } badType }) return badType;
        if (request.ContentLength > settings.MaxBatchBytes) return BatchTooLarge(settings);
        var body = await ReadLimited(request.Body, (int)Math.Min(int.MaxValue, settings.MaxBatchBytes));
        if (body is null) return BatchTooLarge(settings);
        var (records, problem) = ParseBatch(store, settings, body, request.ContentType);
        if (records is null) return problem!;
        if (records.Count == 0) return Results.Json(new { records = Array.Empty<object>() });
        return await Write(() => store.PutBatchAsync(table, records), BatchAnswer);
    }

    /// <summary>The answer to a batch: each record's id, version and sequence, in request order.</summary>
    private static IResult BatchAnswer(IReadOnlyList<LocalWrite> writes) => Results.Json(new
    {
        records = writes.Select(w => new { id = w.Record.Id, version = w.Record.Version.ToString(), sequence = w.Sequence }),
    });

    /// <summary>Whether a batch of this Content-Type is NDJSON (null: no type, tell by the body), or the 415 for a type that is no batch.</summary>
    private static (bool? Ndjson, IResult? Error) BatchFormat(string? contentType, string what)
    {
        if (string.IsNullOrEmpty(contentType)) return (null, null);
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media))
            return (null, Error(415, $"Content-Type '{contentType}' of {what} is not a media type; send application/json or application/x-ndjson"));
        var type = media.MediaType.Value?.ToLowerInvariant();
        var ndjson = type is "application/x-ndjson" or "application/ndjson" or "application/jsonl";
        if (!ndjson && type != "application/json")
            return (null, Error(415, $"{what} is application/json (an array of {{\"id\",\"data\"}}) or application/x-ndjson (one per line), not {type}"));
        return (ndjson, null);
    }

    /// <summary>
    /// The records of a batch body (a JSON array or NDJSON, by <paramref name="contentType"/>), each checked; or the
    /// 4xx naming the first bad item.
    /// </summary>
    private static (List<(string Id, byte[] Json)>? Records, IResult? Error) ParseBatch(RecordStore store, HttpSettings settings, byte[] body, string? contentType)
    {
        // Without a Content-Type, an array is JSON and anything else is taken for NDJSON.
        var ndjson = BatchFormat(contentType, "a batch").Ndjson ?? FirstNonSpace(body) is not (byte)'[';
        var (items, status, problem) = ndjson ? ParseNdjson(body, settings.MaxBatchRecords) : ParseArray(body, settings.MaxBatchRecords);
        if (items is null) return (null, Error(status, problem!));
        var maxDataBytes = store.Limits.MaxDataBytes;
        var records = new List<(string Id, byte[] Json)>(items.Count);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < items.Count; i++)
        {
            var (id, data, itemProblem) = items[i];
            var name = id is null ? $"item {i}" : $"item {i} (id {id})";
            if (itemProblem is not null) return Refuse($"{name}: {itemProblem}");
            if (Names.Problem("record id", id!) is { } badId) return Refuse($"{name}: {badId}");
            if (!ids.Add(id!)) return Refuse($"{name}: the id is already in this batch (an id may appear once)");
            if (data!.Length > maxDataBytes) return Refuse($"{name}: data is {data.Length} bytes, over cluster-node.record.max-size ({maxDataBytes} bytes)");
            if (RecordBodyProblem(data) is { } badData) return Refuse($"{name}: {badData.Replace("record body", "data")}");
            records.Add((id!, data));
        }
        return (records, null);

        static (List<(string Id, byte[] Json)>?, IResult?) Refuse(string problem) => (null, Error(400, $"{problem}; nothing of the batch was written"));
    }

    private static IResult BatchTooLarge(HttpSettings settings) =>
        Error(413, $"batch body is over cluster-node.http.max-batch-bytes ({settings.MaxBatchBytes} bytes); nothing was written");

    private static byte? FirstNonSpace(byte[] body)
    {
        foreach (var b in body)
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')) return b;
        return null;
    }

    /// <summary>One item: its id and data (raw UTF-8 as sent), or why it is bad (id kept when it could be read).</summary>
    private readonly record struct Item(string? Id, byte[]? Data, string? Problem);

    private static (List<Item>? Items, int Status, string? Problem) ParseArray(byte[] body, int maxRecords)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            return (null, 400, $"batch body is not valid JSON: {e.Message}; nothing was written");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array)
                return (null, 400, $"a application/json batch must be an array of {{\"id\",\"data\"}}, not {document.RootElement.ValueKind}");
            var count = document.RootElement.GetArrayLength();
            if (count > maxRecords)
                return (null, 413, $"batch of {count} records is over cluster-node.http.max-batch-records ({maxRecords}); nothing was written");
            return (document.RootElement.EnumerateArray().Select(ParseItem).ToList(), 200, null);
        }
    }

    private static (List<Item>? Items, int Status, string? Problem) ParseNdjson(byte[] body, int maxRecords)
    {
        var items = new List<Item>();
        var start = 0;
        while (start < body.Length)
        {
            var end = Array.IndexOf(body, (byte)'\n', start);
            if (end < 0) end = body.Length;
            var line = body.AsMemory(start, end - start);
            start = end + 1;
            if (line.Span.Trim(" \t\r"u8).IsEmpty) continue;
            if (items.Count == maxRecords)
                return (null, 413, $"batch of more than {maxRecords} records is over cluster-node.http.max-batch-records; nothing was written");
            try
            {
                using var document = JsonDocument.Parse(line);
                items.Add(ParseItem(document.RootElement));
            }
            catch (JsonException e)
            {
                items.Add(new Item(null, null, $"line is not valid JSON: {e.Message}"));
            }
        }
        return (items, 200, null);
    }

    private static Item ParseItem(JsonElement item)
    {
        if (item.ValueKind != JsonValueKind.Object) return new Item(null, null, $"must be an object {{\"id\",\"data\"}}, not {item.ValueKind}");
        string? id = null;
        try
        {
            if (item.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String) id = idElement.GetString();
        }
        catch (InvalidOperationException e)
        {
            return new Item(null, null, $"id is not valid UTF-8 or Unicode: {e.Message}");
        }
        if (id is null) return new Item(null, null, "has no string \"id\"");
        foreach (var property in item.EnumerateObject())
            if (property.Name is not ("id" or "data")) return new Item(id, null, $"unknown property \"{property.Name}\" (an item is {{\"id\",\"data\"}})");
        if (!item.TryGetProperty("data", out var data)) return new Item(id, null, "has no \"data\"");
        if (data.ValueKind != JsonValueKind.Object) return new Item(id, null, $"data must be a JSON object, not {data.ValueKind}");
        // The data's bytes exactly as sent, as a single PUT stores them.
        return new Item(id, JsonMarshal.GetRawUtf8Value(data).ToArray(), null);
    }

    // ---------------------------------------------------------------- a record with its blobs

    public static bool IsMultipart(HttpRequest request) =>
        request.ContentType is { } type && type.StartsWith("multipart/", StringComparison.OrdinalIgnoreCase);

    /// <summary>A part that is not what it must be: a 400 naming it, nothing written.</summary>
    private sealed class BadPart(string message, int status = 400) : Exception(message)
    {
        public int Status { get; } = status;
    }

    /// <summary>
    /// multipart/form-data: a part <c>data</c> (the JSON object) and one part per blob field (part name = field name,
    /// raw bytes streamed to temp files). The blobs are made durable together, then the record names them all in one
    /// version. A bad part is a 400 (413 over a size) naming it; nothing is written and every temp file goes.
    /// </summary>
    public static async Task<IResult> PutMultipart(RecordStore store, BlobUploads uploads, string table, string id, HttpRequest request)
    {
        var (boundary, badType) = MultipartBoundary(request.ContentType, "a record with blobs");
        if (boundary is null) return badType!;
        var limits = store.Limits;
        var writers = new List<BlobWriter>();
        try
        {
            byte[]? data = null;
            // A larger buffer than the 4 KiB default: the boundary search and reads of a large part cost far less CPU.
            var reader = new MultipartReader(boundary, request.Body, UploadBufferBytes);
            using var pooled = new UploadBuffer(UploadBufferBytes);
            var buffer = pooled.Array;
            while (await NextSection(reader) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || !disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase)
                    || HeaderUtilities.RemoveQuotes(disposition.Name).Value is not { Length: > 0 } name)
                    throw new BadPart($"part {writers.Count + (data is null ? 0 : 1)} has no Content-Disposition: form-data; name=\"...\"");
                if (name == "data")
                {
                    if (data is not null) throw new BadPart("part data: there are two");
                    data = await ReadPart(section.Body, limits.MaxDataBytes, "data")
                        ?? throw new BadPart($"part data: over cluster-node.record.max-size ({limits.MaxDataBytes} bytes)", 413);
                    if (RecordBodyProblem(data) is { } problem) throw new BadPart($"part data: {problem.Replace("record body", "data")}");
                    continue;
                }
                if (Names.Problem("blob field", name) is { } badName) throw new BadPart($"part {name}: {badName}");
                if (writers.Any(w => w.Sealed!.Field == name)) throw new BadPart($"part {name}: the field is there twice");
                if (writers.Count == limits.MaxBlobFields)
                    throw new BadPart($"part {name}: more than cluster-node.record.max-blob-fields ({limits.MaxBlobFields}) blob parts", 422);
                var writer = store.Blobs.BeginWrite();
                writers.Add(writer); // disposed below: an unplaced writer deletes its temp file
                int read;
                while ((read = await ReadBody(section.Body, buffer, name)) > 0)
                {
                    if (writer.Length + read > limits.MaxBlobBytes)
                        throw new BadPart($"part {name}: blob is over cluster-node.blob.max-size ({limits.MaxBlobBytes} bytes)", 413);
                    writer.Append(buffer.AsSpan(0, read));
                }
                writer.Seal(name, BlobStore.NewFileId());
            }
            if (data is null) throw new BadPart("no part named data (the record's JSON object)");
            await uploads.MakeDurableAsync(writers);
            var blobs = writers.Select(w => w.Sealed!).ToArray();
            return await Write(async () =>
            {
                try
                {
                    return await store.PutRecordAsync(table, id, data, blobs);
                }
                catch
                {
                    // Refused or failed before anything was written: the new files are nobody's.
                    foreach (var blob in blobs)
                        try { store.Blobs.Delete(blob.FileId); } catch (IOException) { }
                    throw;
                }
            }, write => Results.Json(RecordJson(write.Record)));
        }
        catch (BadPart bad)
        {
            return Error(bad.Status, $"{bad.Message}; nothing was written");
        }
        catch (IOException e) when (StoreFullException.IsOutOfDiskSpace(e) || StoreFullException.IsOutOfDiskSpace(e.InnerException ?? e))
        {
            return InsufficientStorage($"no space left for the blobs of {table}/{id} on the disk of the blob files (under cluster-node.data-dir); nothing was stored");
        }
        finally
        {
            foreach (var writer in writers) writer.Dispose();
        }
    }

    // ---------------------------------------------------------------- a batch with its blobs

    /// <summary>The part of a multipart batch that holds its records.</summary>
    public const string RecordsPart = "records";

    /// <summary>
    /// A batch with blobs, <c>POST /tables/{table}/records</c> as multipart/form-data: first a part <c>records</c>
    /// holding the batch as a plain batch does (a JSON array or NDJSON of <c>{"id","data"}</c>; NDJSON when the part
    /// says application/x-ndjson, JSON when it says application/json, else told by its first character), then one part
    /// per blob named <c>{id}/{field}</c> (raw bytes, streamed to a temp file). Each record's data replaces its data and
    /// each of its blobs its field (other blob fields stay), as a multipart PUT does; all the blobs are made durable
    /// together, then every record is written in one transaction: all or none. Answers as a batch does. A bad part is a
    /// 400 naming it (413 over a limit) and nothing is written: no record, no blob file.
    /// </summary>
    public static async Task<IResult> PostMultipartBatch(RecordStore store, BlobUploads uploads, HttpSettings settings, string table, HttpRequest request)
    {
        var (boundary, badType) = MultipartBoundary(request.ContentType, "a batch with blobs");
        if (boundary is null) return badType!;
        var limits = store.Limits;
        var blobs = new List<(int Item, BlobWriter Writer)>();
        try
        {
            var reader = new MultipartReader(boundary, request.Body, UploadBufferBytes);
            var first = await NextSection(reader);
            if (first is null || PartName(first) != RecordsPart)
                throw new BadPart($"the first part must be named {RecordsPart} (the batch: a JSON array or NDJSON of {{\"id\",\"data\"}}), then one part per blob named {{id}}/{{field}}");
            var body = await ReadPart(first.Body, (int)Math.Min(int.MaxValue, settings.MaxBatchBytes), RecordsPart)
                ?? throw new BadPart($"part {RecordsPart}: over cluster-node.http.max-batch-bytes ({settings.MaxBatchBytes} bytes)", 413);
            // Only a type that names a batch format decides it: a client's form library may label any part text/plain.
            var recordsType = BatchFormat(first.ContentType, "part records") is { Error: null, Ndjson: not null } ? first.ContentType : null;
            var (records, problem) = ParseBatch(store, settings, body, recordsType);
            if (records is null) return problem!;
            var items = new Dictionary<string, int>(records.Count, StringComparer.Ordinal);
            for (var i = 0; i < records.Count; i++) items[records[i].Id] = i;
            var names = new HashSet<string>(StringComparer.Ordinal);
            var fieldsOf = new int[records.Count];
            using var pooled = new UploadBuffer(UploadBufferBytes);
            var buffer = pooled.Array;
            long blobBytes = 0;
            while (await NextSection(reader) is { } section)
            {
                var name = PartName(section) ?? throw new BadPart($"part {blobs.Count + 1} has no Content-Disposition: form-data; name=\"{{id}}/{{field}}\"");
                var slash = name.IndexOf('/');
                if (slash < 0) throw new BadPart($"part {name}: a blob part is named {{id}}/{{field}}, after the one part {RecordsPart}");
                var (id, field) = (name[..slash], name[(slash + 1)..]);
                if (!items.TryGetValue(id, out var item)) throw new BadPart($"part {name}: no record {id} in part {RecordsPart}");
                if (Names.Problem("blob field", field) is { } badName) throw new BadPart($"part {name}: {badName}");
                if (!names.Add(name)) throw new BadPart($"part {name}: the blob is there twice");
                if (++fieldsOf[item] > limits.MaxBlobFields)
                    throw new BadPart($"part {name}: more than cluster-node.record.max-blob-fields ({limits.MaxBlobFields}) blob parts for record {id}", 422);
                if (blobs.Count == settings.MaxBatchBlobs)
                    throw new BadPart($"part {name}: more than cluster-node.http.max-batch-blobs ({settings.MaxBatchBlobs}) blob parts in the batch", 413);
                var writer = store.Blobs.BeginWrite();
                blobs.Add((item, writer)); // disposed below: an unplaced writer deletes its temp file
                int read;
                while ((read = await ReadBody(section.Body, buffer, name)) > 0)
                {
                    if (writer.Length + read > limits.MaxBlobBytes)
                        throw new BadPart($"part {name}: blob is over cluster-node.blob.max-size ({limits.MaxBlobBytes} bytes)", 413);
                    if ((blobBytes += read) > settings.MaxBatchBlobBytes)
                        throw new BadPart($"part {name}: the batch's blobs are over cluster-node.http.max-batch-blob-bytes ({settings.MaxBatchBlobBytes} bytes)", 413);
                    writer.Append(buffer.AsSpan(0, read));
                }
                writer.Seal(field, BlobStore.NewFileId());
            }
            if (records.Count == 0) return Results.Json(new { records = Array.Empty<object>() });
            await uploads.MakeDurableAsync(blobs.Select(b => b.Writer).ToArray());
            var placed = blobs.Select(b => b.Writer.Sealed!).ToArray();
            var batch = records.Select((r, i) => (r.Id, r.Json, (IReadOnlyList<BlobRef>)blobs.Where(b => b.Item == i).Select(b => b.Writer.Sealed!).ToArray())).ToArray();
            return await Write(async () =>
            {
                try
                {
                    return await store.PutBatchAsync(table, batch);
                }
                catch
                {
                    // Refused or failed before anything was written: the new files are nobody's.
                    foreach (var blob in placed)
                        try { store.Blobs.Delete(blob.FileId); } catch (IOException) { }
                    throw;
                }
            }, BatchAnswer);
        }
        catch (BadPart bad)
        {
            return Error(bad.Status, $"{bad.Message}; nothing of the batch was written");
        }
        catch (IOException e) when (StoreFullException.IsOutOfDiskSpace(e) || StoreFullException.IsOutOfDiskSpace(e.InnerException ?? e))
        {
            return InsufficientStorage($"no space left for the blobs of a batch of {table} on the disk of the blob files (under cluster-node.data-dir); nothing was stored");
        }
        finally
        {
            foreach (var (_, writer) in blobs) writer.Dispose();
        }
    }

    /// <summary>The boundary of a multipart/form-data body, or the 415 / 400 saying why <paramref name="what"/> has none.</summary>
    private static (string? Boundary, IResult? Error) MultipartBoundary(string? contentType, string what)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media) || !media.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            return (null, Error(415, $"{what} is multipart/form-data, not {contentType}"));
        var boundary = HeaderUtilities.RemoveQuotes(media.Boundary).Value;
        return string.IsNullOrEmpty(boundary) || boundary.Length > 70
            ? (null, Error(400, "multipart/form-data needs a boundary of 1 to 70 characters in its Content-Type"))
            : (boundary, null);
    }

    /// <summary>A part's form-data name, or null when it has none.</summary>
    private static string? PartName(MultipartSection section) =>
        ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
        && disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase)
        && HeaderUtilities.RemoveQuotes(disposition.Name).Value is { Length: > 0 } name
            ? name
            : null;

    /// <summary>The next part, or a <see cref="BadPart"/> for a body that is not multipart as its Content-Type says.</summary>
    private static async Task<MultipartSection?> NextSection(MultipartReader reader)
    {
        try
        {
            return await reader.ReadNextSectionAsync();
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw new BadPart($"the multipart body is malformed: {e.Message}");
        }
    }

    private static async Task<int> ReadBody(Stream part, byte[] buffer, string name)
    {
        try
        {
            return await ReadFull(part, buffer);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw new BadPart($"part {name}: the multipart body is malformed: {e.Message}");
        }
    }

    private static async Task<byte[]?> ReadPart(Stream part, int maxBytes, string name)
    {
        try
        {
            return await ReadLimited(part, maxBytes);
        }
        catch (Exception e) when (e is IOException or InvalidDataException)
        {
            throw new BadPart($"part {name}: the multipart body is malformed: {e.Message}");
        }
    }
}
