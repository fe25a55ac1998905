using ClusterNode.Persistence.Grouping;

namespace ClusterNode.Persistence.Blobs;

/// <summary>
/// Makes uploaded blobs durable in groups, as the follower's blob flusher does for received ones: every upload sealed
/// while the previous group synced goes into the next, whose bytes one syncfs (or a fsync per file) makes durable, then
/// each file is renamed into place and the directory fsynced once for all. An upload's task completes only when its
/// bytes and its rename are durable; one upload's failure (a rename refused) fails no other.
/// </summary>
public sealed class BlobUploads : IDisposable
{
    private const int MaxQueuedUploads = 1024;
    private const int MaxGroupFiles = 256;

    private readonly BlobStore _blobs;
    private readonly bool _syncFileSystem;
    private readonly GroupWorker<Upload> _flusher;

    /// <param name="syncFileSystem">One syncfs per group (Linux, <c>blob.durability = syncfs</c>), else one fsync per file.</param>
    public BlobUploads(BlobStore blobs, bool syncFileSystem)
    {
        _blobs = blobs;
        _syncFileSystem = syncFileSystem;
        _flusher = new GroupWorker<Upload>("blob-uploads", MaxQueuedUploads, MaxGroupFiles, u => Math.Max(1, u.Writers.Count), FlushGroup);
    }

    /// <summary>The blobs of one upload (one request): durable and in place together, or none is (their temp files stay the caller's to dispose).</summary>
    private sealed class Upload(IReadOnlyList<BlobWriter> writers)
    {
        public IReadOnlyList<BlobWriter> Writers { get; } = writers;
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>
    /// Makes <paramref name="sealedWriters"/> durable and places them under their file ids. Throws (nothing placed, and
    /// any file already renamed deleted again) when any of them cannot be made durable.
    /// </summary>
    public async Task MakeDurableAsync(IReadOnlyList<BlobWriter> sealedWriters)
    {
        if (sealedWriters.Count == 0) return;
        if (sealedWriters.Any(w => w.Sealed is null)) throw new InvalidOperationException("seal every blob before making it durable");
        var upload = new Upload(sealedWriters);
        await _flusher.EnqueueAsync(upload);
        await upload.Done.Task;
    }

    private void FlushGroup(IReadOnlyList<Upload> group)
    {
        var failures = new Exception?[group.Count];
        try
        {
            SyncData(group, failures);
            var placed = new List<BlobWriter>?[group.Count];
            for (var i = 0; i < group.Count; i++)
            {
                if (failures[i] is not null) continue;
                placed[i] = new List<BlobWriter>();
                try
                {
                    foreach (var writer in group[i].Writers)
                    {
                        writer.Place();
                        placed[i]!.Add(writer);
                    }
                }
                catch (Exception e)
                {
                    failures[i] = new IOException($"rename of an uploaded blob into place failed: {e.Message}", e);
                    Unplace(placed[i]!);
                }
            }
            if (placed.Any(p => p is { Count: > 0 }))
            {
                try
                {
                    _blobs.SyncDirectory();
                }
                catch (Exception e)
                {
                    for (var i = 0; i < group.Count; i++)
                    {
                        if (failures[i] is not null) continue;
                        failures[i] = new IOException($"fsync of the blob directory failed: {e.Message}", e);
                        Unplace(placed[i]!);
                    }
                }
            }
        }
        catch (Exception e)
        {
            for (var i = 0; i < group.Count; i++) failures[i] ??= e;
        }
        finally
        {
            for (var i = 0; i < group.Count; i++)
            {
                if (failures[i] is { } failure) group[i].Done.TrySetException(failure);
                else group[i].Done.TrySetResult();
            }
        }
    }

    private void SyncData(IReadOnlyList<Upload> group, Exception?[] failures)
    {
        if (_syncFileSystem)
        {
            // Every writer of the group was sealed (its bytes written) before it was queued, so this one call covers all.
            _blobs.SyncFileSystem();
            foreach (var writer in group.SelectMany(u => u.Writers)) writer.DataSynced();
            return;
        }
        for (var i = 0; i < group.Count; i++)
        {
            try
            {
                foreach (var writer in group[i].Writers) writer.FlushToDisk();
            }
            catch (Exception e)
            {
                failures[i] = e;
            }
        }
    }

    /// <summary>An upload that failed after some of its files were renamed: they are nobody's, and go now.</summary>
    private void Unplace(IEnumerable<BlobWriter> placed)
    {
        foreach (var writer in placed)
        {
            try
            {
                _blobs.ForgetVerified(writer.Sealed!.FileId);
                _blobs.Delete(writer.Sealed.FileId);
            }
            catch (IOException)
            {
                // an orphan: collected at the next start or by the scrub
            }
        }
    }

    public void Dispose() => _flusher.Dispose();
}
