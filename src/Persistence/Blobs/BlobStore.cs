using System.Security.Cryptography;
using System.Text.RegularExpressions;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Persistence.Blobs;

/// <summary>
/// Blob files under one directory, each named by a file id that is unique per uploaded content and travels
/// with the record, so every node stores the same blob under the same name. A file only ever appears at its
/// final name complete, hashed and fsynced (temp file, fsync, rename over, fsync of the directory), so a read
/// never sees partial bytes.
/// </summary>
public sealed partial class BlobStore
{
    private const string TempDirectoryName = "tmp";
    private readonly string _tempDirectory;
    // Files a full hash found right, with the hash, length and last write time they had then: a Range read, which
    // cannot hash the whole file as it goes, is served only from these, and presence trusts them instead of hashing.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (byte[] Sha256, long Length, DateTime WrittenUtc, DateTime VerifiedUtc)> _verified = new();

    public BlobStore(string directory)
    {
        Directory = System.IO.Directory.CreateDirectory(directory).FullName;
        _tempDirectory = System.IO.Directory.CreateDirectory(Path.Combine(Directory, TempDirectoryName)).FullName;
        // A temp file left by a crash belongs to a save that never completed; its blob is re-sent or re-uploaded.
        foreach (var orphan in System.IO.Directory.EnumerateFiles(_tempDirectory)) File.Delete(orphan);
    }

    public string Directory { get; }

    [GeneratedRegex(@"^[0-9a-f]{32}\z")]
    private static partial Regex FileIdPattern();

    /// <summary>File ids come from the network too: only this shape may become a path.</summary>
    public static bool IsValidFileId(string fileId) => FileIdPattern().IsMatch(fileId);

    public static string NewFileId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    public BlobWriter BeginWrite() => new(this, Path.Combine(_tempDirectory, Guid.NewGuid().ToString("N") + ".tmp"));

    /// <summary>Makes completed renames durable; one call covers every rename before it (grouped fsync).</summary>
    public void SyncDirectory() => DirectorySync.Sync(Directory);

    /// <summary>Makes the bytes of every blob written so far durable at once (syncfs); see <see cref="BlobWriter.DataSynced"/>.</summary>
    public void SyncFileSystem() => DirectorySync.SyncFileSystem(Directory);

    public string PathOf(string fileId)
    {
        if (!IsValidFileId(fileId)) throw new ArgumentException($"invalid blob file id '{fileId}'");
        return Path.Combine(Directory, fileId);
    }

    /// <summary>
    /// A file of the expected size is there: says nothing of its bytes (any blob of that size under that file id passes),
    /// so it only ever decides that a blob is missing, never that it is held.
    /// </summary>
    public bool HasFileOfSize(BlobRef blob)
    {
        var info = new FileInfo(PathOf(blob.FileId));
        return info.Exists && info.Length == blob.Size;
    }

    /// <summary>
    /// Held: the file hashes to the record's sha256. Trusts a hash taken since the file was last written (this store's
    /// writer hashed it on the way in, or a read, the scrub or a repair hashed it whole), else hashes it now and
    /// remembers. A frame naming an existing file id with the same size but other bytes is therefore not held.
    /// </summary>
    public bool IsPresent(BlobRef blob) => IsVerified(blob) || Verify(blob);

    /// <summary>Present and its bytes hash to what the record says (hashed now, and remembered as verified).</summary>
    public bool Verify(BlobRef blob)
    {
        if (!HasFileOfSize(blob)) return false;
        try
        {
            var written = File.GetLastWriteTimeUtc(PathOf(blob.FileId));
            using var stream = OpenRead(blob.FileId);
            if (stream.Length != blob.Size || !SHA256.HashData(stream).AsSpan().SequenceEqual(blob.Sha256)) return false;
            Remember(blob, stream.Length, written);
            return true;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    /// <summary>The file of <paramref name="blob"/> was hashed whole and found right (by a full read or the scrub).</summary>
    public void MarkVerified(BlobRef blob)
    {
        var info = new FileInfo(PathOf(blob.FileId));
        if (info.Exists && info.Length == blob.Size) Remember(blob, info.Length, info.LastWriteTimeUtc);
    }

    private void Remember(BlobRef blob, long length, DateTime writtenUtc) =>
        _verified[blob.FileId] = (blob.Sha256.ToArray(), length, writtenUtc, DateTime.UtcNow);

    /// <summary>
    /// Hashed whole and found to be <paramref name="blob"/>'s bytes (its sha256: another record may name the same file
    /// id with other bytes), within <paramref name="maxAge"/> when given, and not written since.
    /// </summary>
    public bool IsVerified(BlobRef blob, TimeSpan? maxAge = null)
    {
        if (!_verified.TryGetValue(blob.FileId, out var seen)) return false;
        if (!seen.Sha256.AsSpan().SequenceEqual(blob.Sha256) || seen.Length != blob.Size) return false;
        if (maxAge is { } age && DateTime.UtcNow - seen.VerifiedUtc > age) return false;
        var info = new FileInfo(PathOf(blob.FileId));
        return info.Exists && info.Length == seen.Length && info.LastWriteTimeUtc == seen.WrittenUtc;
    }

    /// <summary>
    /// What a file holds now: "held" (present and hashing to the record's sha256, checked now or within
    /// <paramref name="maxAge"/>), "missing", or "corrupt" (another size or hash). A corrupt or missing file is forgotten
    /// as verified.
    /// </summary>
    public async Task<string> CheckAsync(BlobRef blob, TimeSpan maxAge, CancellationToken cancel = default)
    {
        if (IsVerified(blob, maxAge)) return "held";
        var info = new FileInfo(PathOf(blob.FileId));
        if (!info.Exists)
        {
            ForgetVerified(blob.FileId);
            return "missing";
        }
        try
        {
            await using var stream = new FileStream(PathOf(blob.FileId), new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite | FileShare.Delete, Options = FileOptions.Asynchronous | FileOptions.SequentialScan });
            if (stream.Length == blob.Size && (await SHA256.HashDataAsync(stream, cancel)).AsSpan().SequenceEqual(blob.Sha256))
            {
                MarkVerified(blob);
                return "held";
            }
        }
        catch (FileNotFoundException)
        {
            ForgetVerified(blob.FileId);
            return "missing";
        }
        ForgetVerified(blob.FileId);
        return "corrupt";
    }

    /// <summary>Forgets a verification: the file was found wrong, replaced or deleted.</summary>
    public void ForgetVerified(string fileId) => _verified.TryRemove(fileId, out _);

    public FileStream OpenRead(string fileId) =>
        new(PathOf(fileId), new FileStreamOptions { Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.ReadWrite | FileShare.Delete, BufferSize = 0 });

    public FileStream? TryOpenRead(string fileId)
    {
        try
        {
            return OpenRead(fileId);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }

    public void Delete(string fileId) => File.Delete(PathOf(fileId));

    internal void Place(string tempPath, string fileId) => File.Move(tempPath, PathOf(fileId), overwrite: true);

    public IEnumerable<string> FileIds() =>
        System.IO.Directory.EnumerateFiles(Directory).Select(Path.GetFileName).Where(n => n is not null && IsValidFileId(n))!;
}

/// <summary>
/// One blob being written: bytes are appended to a temp file and hashed on the way; <see cref="Seal"/> checks
/// size and hash, <see cref="FlushToDisk"/> fsyncs, <see cref="Place"/> renames into place (<see cref="Commit"/>
/// does all three). The caller then fsyncs the directory, once for several blobs, before calling them durable.
/// </summary>
public sealed class BlobWriter : IDisposable
{
    private readonly BlobStore _store;
    private readonly FileStream _file;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private BlobRef? _sealed;
    private bool _flushed;
    private bool _finished;

    internal BlobWriter(BlobStore store, string tempPath)
    {
        _store = store;
        TempPath = tempPath;
        _file = new FileStream(tempPath, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, BufferSize = 0 });
    }

    public string TempPath { get; }
    public long Length { get; private set; }

    /// <summary>The blob as <see cref="Seal"/> ended it, or null before.</summary>
    public BlobRef? Sealed => _sealed;

    public void Append(ReadOnlySpan<byte> bytes)
    {
        _file.Write(bytes);
        _hash.AppendData(bytes);
        Length += bytes.Length;
    }

    /// <summary>Checks, fsyncs and renames the blob into place under <paramref name="fileId"/> in one go.</summary>
    public BlobRef Commit(string field, string fileId, long? expectedSize = null, byte[]? expectedSha256 = null)
    {
        var blob = Seal(field, fileId, expectedSize, expectedSha256);
        FlushToDisk();
        Place();
        return blob;
    }

    /// <summary>
    /// Ends the blob: throws if it is not the expected bytes. Nothing is durable or visible yet; a caller that
    /// seals several blobs can fsync them together (<see cref="FlushToDisk"/>) before placing each.
    /// </summary>
    public BlobRef Seal(string field, string fileId, long? expectedSize = null, byte[]? expectedSha256 = null)
    {
        if (_sealed is not null) throw new InvalidOperationException($"blob {_sealed.FileId} is already sealed");
        if (!BlobStore.IsValidFileId(fileId)) throw new ArgumentException($"invalid blob file id '{fileId}'");
        var sha = _hash.GetHashAndReset();
        if (expectedSize is { } size && size != Length)
            throw new InvalidDataException($"blob {fileId}: received {Length} bytes, expected {size}");
        if (expectedSha256 is not null && !sha.AsSpan().SequenceEqual(expectedSha256))
            throw new InvalidDataException($"blob {fileId}: sha256 {Convert.ToHexStringLower(sha)} does not match {Convert.ToHexStringLower(expectedSha256)}");
        _sealed = new BlobRef(field, fileId, Length, sha);
        return _sealed;
    }

    /// <summary>fsync of the sealed blob's bytes; safe to call from several threads for several writers at once.</summary>
    public void FlushToDisk()
    {
        if (_sealed is null) throw new InvalidOperationException("seal the blob before flushing it");
        _file.Flush(flushToDisk: true);
        _flushed = true;
    }

    /// <summary>The sealed blob's bytes were made durable by <see cref="BlobStore.SyncFileSystem"/>, run after it was sealed.</summary>
    public void DataSynced()
    {
        if (_sealed is null) throw new InvalidOperationException("seal the blob before syncing it");
        _flushed = true;
    }

    /// <summary>
    /// Renames the fsynced blob over its final name, so a reader sees it whole or not at all. It is durable once
    /// the directory is fsynced too (<see cref="BlobStore.SyncDirectory"/>, once for any number of blobs).
    /// </summary>
    public void Place()
    {
        if (_sealed is null || !_flushed) throw new InvalidOperationException("a blob is placed only after it is sealed and flushed to disk");
        _file.Dispose();
        _store.Place(TempPath, _sealed.FileId);
        _finished = true;
        // Hashed on the way in and sealed against that hash: presence need not hash it again.
        _store.MarkVerified(_sealed);
    }

    public void Dispose()
    {
        _hash.Dispose();
        if (_finished) return;
        _file.Dispose();
        try { File.Delete(TempPath); } catch (IOException) { /* removed at next start */ }
    }
}
