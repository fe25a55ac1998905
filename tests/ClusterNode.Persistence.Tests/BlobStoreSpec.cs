using System.Security.Cryptography;
using ClusterNode.Persistence.Blobs;
using Xunit;

namespace ClusterNode.Persistence.Tests;

/// <summary>
/// Blob files: what is read back is byte for byte what was written, a file appears at its final name only
/// complete and checked, and nothing from the network can become a path outside the blob directory.
/// Plain xunit rather than TestKit: there is no actor here.
/// </summary>
public sealed class BlobStoreSpec : IDisposable
{
    private readonly TempDirectory _dir = new("cn-blobs");
    private readonly BlobStore _store;

    public BlobStoreSpec() => _store = new BlobStore(_dir.Combine("blobs"));

    public void Dispose() => _dir.Dispose();

    private string TempDirectory => Path.Combine(_store.Directory, "tmp");

    private static byte[] ReadAll(Stream stream)
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    private byte[]? ReadBlob(string fileId)
    {
        using var stream = _store.TryOpenRead(fileId);
        return stream is null ? null : ReadAll(stream);
    }

    [Fact]
    public void Round_trip_returns_the_same_bytes_and_their_sha256()
    {
        var bytes = RandomNumberGenerator.GetBytes(200_000);
        var fileId = BlobStore.NewFileId();
        using (var writer = _store.BeginWrite())
        {
            foreach (var chunk in bytes.Chunk(65_536)) writer.Append(chunk);
            var blob = writer.Commit("photo", fileId, bytes.Length, SHA256.HashData(bytes));
            Assert.Equal("photo", blob.Field);
            Assert.Equal(fileId, blob.FileId);
            Assert.Equal(bytes.Length, blob.Size);
            Assert.Equal(SHA256.HashData(bytes), blob.Sha256);
            _store.SyncDirectory();
            Assert.True(_store.IsPresent(blob));
            Assert.True(_store.Verify(blob));
        }

        Assert.Equal(bytes, ReadBlob(fileId));
        Assert.Equal([fileId], _store.FileIds());
        Assert.Empty(Directory.EnumerateFiles(TempDirectory));
    }

    [Fact]
    public void Commit_without_expectations_computes_size_and_sha256()
    {
        var bytes = "hello blob"u8.ToArray();
        using var writer = _store.BeginWrite();
        writer.Append(bytes);
        var blob = writer.Commit("f", BlobStore.NewFileId());
        Assert.Equal(bytes.Length, blob.Size);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(bytes)), blob.Sha256Hex);
    }

    [Fact]
    public void An_empty_blob_round_trips()
    {
        var fileId = BlobStore.NewFileId();
        using (var writer = _store.BeginWrite())
            Assert.True(_store.Verify(writer.Commit("f", fileId, 0, SHA256.HashData([]))));
        Assert.Equal([], ReadBlob(fileId) ?? [0]);
    }

    [Fact]
    public void Commit_with_a_wrong_size_throws_and_leaves_no_file()
    {
        var bytes = RandomNumberGenerator.GetBytes(1000);
        var fileId = BlobStore.NewFileId();
        using (var writer = _store.BeginWrite())
        {
            writer.Append(bytes);
            var error = Assert.Throws<InvalidDataException>(() => writer.Commit("f", fileId, bytes.Length + 1, SHA256.HashData(bytes)));
            Assert.Contains(fileId, error.Message);
        }

        Assert.Null(ReadBlob(fileId));
        Assert.Empty(_store.FileIds());
        Assert.Empty(Directory.EnumerateFiles(TempDirectory));
    }

    [Fact]
    public void Commit_with_a_wrong_sha256_throws_and_leaves_no_file()
    {
        var bytes = RandomNumberGenerator.GetBytes(1000);
        var wrong = SHA256.HashData(bytes);
        wrong[0] ^= 0xFF;
        var fileId = BlobStore.NewFileId();
        using (var writer = _store.BeginWrite())
        {
            writer.Append(bytes);
            var error = Assert.Throws<InvalidDataException>(() => writer.Commit("f", fileId, bytes.Length, wrong));
            Assert.Contains("sha256", error.Message);
        }

        Assert.Null(ReadBlob(fileId));
        Assert.Empty(_store.FileIds());
        Assert.Empty(Directory.EnumerateFiles(TempDirectory));
    }

    [Fact]
    public void A_failed_commit_does_not_touch_an_existing_file_of_the_same_id()
    {
        var good = "the good bytes"u8.ToArray();
        var fileId = BlobStore.NewFileId();
        using (var writer = _store.BeginWrite())
        {
            writer.Append(good);
            writer.Commit("f", fileId, good.Length, SHA256.HashData(good));
        }

        using (var writer = _store.BeginWrite())
        {
            writer.Append("bad"u8);
            Assert.Throws<InvalidDataException>(() => writer.Commit("f", fileId, good.Length, SHA256.HashData(good)));
        }

        Assert.Equal(good, ReadBlob(fileId));
    }

    [Fact]
    public void The_final_name_appears_only_after_commit()
    {
        var bytes = RandomNumberGenerator.GetBytes(10_000);
        var fileId = BlobStore.NewFileId();
        using var writer = _store.BeginWrite();
        writer.Append(bytes.AsSpan(0, 5_000));

        Assert.Null(ReadBlob(fileId));
        Assert.Empty(_store.FileIds());
        Assert.False(_store.IsPresent(new("f", fileId, 5_000, SHA256.HashData(bytes.AsSpan(0, 5_000)))));

        writer.Append(bytes.AsSpan(5_000));
        Assert.Null(ReadBlob(fileId));

        writer.Commit("f", fileId, bytes.Length, SHA256.HashData(bytes));
        Assert.Equal(bytes, ReadBlob(fileId));
    }

    [Fact]
    public void A_reader_of_the_old_file_keeps_its_complete_bytes_while_a_new_one_is_committed_over_it()
    {
        var oldBytes = RandomNumberGenerator.GetBytes(50_000);
        var newBytes = RandomNumberGenerator.GetBytes(70_000);
        var fileId = BlobStore.NewFileId();
        using (var writer = _store.BeginWrite())
        {
            writer.Append(oldBytes);
            writer.Commit("f", fileId);
        }

        using var reader = _store.OpenRead(fileId);
        using (var writer = _store.BeginWrite())
        {
            writer.Append(newBytes);
            writer.Commit("f", fileId);
        }

        Assert.Equal(oldBytes, ReadAll(reader));
        Assert.Equal(newBytes, ReadBlob(fileId));
    }

    [Fact]
    public void An_abandoned_write_leaves_nothing_behind()
    {
        using (var writer = _store.BeginWrite())
        {
            writer.Append(RandomNumberGenerator.GetBytes(1000));
            Assert.True(File.Exists(writer.TempPath));
        }
        Assert.Empty(Directory.EnumerateFiles(TempDirectory));
        Assert.Empty(_store.FileIds());
    }

    [Fact]
    public void Temp_files_left_by_a_crash_are_removed_at_start()
    {
        // What a crash mid-save leaves: a temp file with part of a blob, never committed.
        var leftover = Path.Combine(TempDirectory, Guid.NewGuid().ToString("N") + ".tmp");
        File.WriteAllBytes(leftover, RandomNumberGenerator.GetBytes(100));

        var restarted = new BlobStore(_store.Directory);

        Assert.False(File.Exists(leftover));
        Assert.Empty(restarted.FileIds());
    }

    [Fact]
    public void Verify_fails_for_a_missing_a_truncated_or_a_corrupt_file()
    {
        var bytes = RandomNumberGenerator.GetBytes(4096);
        ClusterNode.Persistence.Records.BlobRef blob;
        using (var writer = _store.BeginWrite())
        {
            writer.Append(bytes);
            blob = writer.Commit("f", BlobStore.NewFileId());
        }
        var path = _store.PathOf(blob.FileId);

        var corrupt = (byte[])bytes.Clone();
        corrupt[^1] ^= 0x80;
        File.WriteAllBytes(path, corrupt);
        Assert.True(_store.HasFileOfSize(blob)); // the cheap check only sees the size
        Assert.False(_store.IsPresent(blob));
        Assert.False(_store.Verify(blob));

        File.WriteAllBytes(path, bytes.AsSpan(0, 4000).ToArray());
        Assert.False(_store.IsPresent(blob));
        Assert.False(_store.Verify(blob));

        File.Delete(path);
        Assert.False(_store.IsPresent(blob));
        Assert.False(_store.Verify(blob));
        Assert.Null(_store.TryOpenRead(blob.FileId));
    }

    [Fact]
    public void Delete_removes_the_file()
    {
        var fileId = BlobStore.NewFileId();
        using (var writer = _store.BeginWrite())
        {
            writer.Append("x"u8);
            writer.Commit("f", fileId);
        }
        _store.Delete(fileId);
        Assert.Null(ReadBlob(fileId));
        _store.Delete(fileId); // deleting twice is harmless
    }

    [Fact]
    public void New_file_ids_are_valid_and_distinct()
    {
        var ids = Enumerable.Range(0, 1000).Select(_ => BlobStore.NewFileId()).ToList();
        Assert.All(ids, id => Assert.True(BlobStore.IsValidFileId(id), id));
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/b")]
    [InlineData("../0123456789abcdef0123456789abcd")]
    [InlineData("0123456789abcdef/0123456789abcde")]
    [InlineData("0123456789abcdef\\0123456789abcde")]
    [InlineData("/etc/passwd")]
    [InlineData("..")]
    [InlineData("")]
    [InlineData("0123456789ABCDEF0123456789ABCDEF")]
    [InlineData("0123456789abcdef0123456789abcde")]
    [InlineData("0123456789abcdef0123456789abcdef0")]
    [InlineData("0123456789abcdeg0123456789abcdef")]
    [InlineData(" 0123456789abcdef0123456789abcde")]
    public void IsValidFileId_refuses_anything_but_32_lowercase_hex_digits(string fileId)
    {
        Assert.False(BlobStore.IsValidFileId(fileId));
        Assert.Throws<ArgumentException>(() => _store.PathOf(fileId));
        Assert.Throws<ArgumentException>(() => _store.TryOpenRead(fileId));
    }

    [Fact]
    public void Commit_under_an_invalid_file_id_throws_and_leaves_nothing_behind()
    {
        using (var writer = _store.BeginWrite())
        {
            writer.Append("x"u8);
            Assert.Throws<ArgumentException>(() => writer.Commit("f", "../escape"));
        }
        Assert.Empty(Directory.EnumerateFiles(TempDirectory));
        Assert.Equal([_store.Directory], Directory.EnumerateFileSystemEntries(_dir.FullPath));
    }

    [Fact]
    public void IsValidFileId_refuses_an_id_with_a_trailing_newline()
    {
        Assert.False(BlobStore.IsValidFileId("0123456789abcdef0123456789abcdef\n"));
    }
}
