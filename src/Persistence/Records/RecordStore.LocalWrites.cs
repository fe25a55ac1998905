using ClusterNode.Persistence.Grouping;
using LightningDB;

namespace ClusterNode.Persistence.Records;

// Local writes, committed in groups: every write waiting when the committer is free goes into one LMDB transaction with
// one durable commit (group commit), each keeping its own outcome. A write's task completes only after that commit.
public sealed partial class RecordStore
{
    /// <summary>Writes waiting for the committer at most; a writer beyond it awaits room.</summary>
    private const int MaxQueuedWrites = 4096;

    /// <summary>
    /// What one group's transaction takes at most, in records plus KiB of data: bounds a commit's size and time. A write
    /// larger than this (one big batch) still goes whole, alone or with what came before it.
    /// </summary>
    private const int MaxGroupWeight = 16_384;

    /// <summary>One record a local write makes from the record as it stands in the committing transaction.</summary>
    private readonly record struct RecordChange(string Table, string Id, Func<StoredRecord?, RecordVersion, StoredRecord?> Build);

    /// <summary>One caller's write: all its changes commit together or none does; <see cref="Done"/> says which.</summary>
    private sealed class PendingWrite(IReadOnlyList<RecordChange> changes, bool isBatch, int weight)
    {
        public IReadOnlyList<RecordChange> Changes { get; } = changes;

        /// <summary>A refusal names the item of the batch (<see cref="BatchItemRefusedException"/>).</summary>
        public bool IsBatch { get; } = isBatch;

        public int Weight { get; } = weight;

        // Asynchronous continuations: a caller's code must never run on the committer's thread.
        public TaskCompletionSource<IReadOnlyList<LocalWrite?>> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly record struct Outcome(LocalWrite?[]? Writes, Exception? Error);

    private GroupWorker<PendingWrite> StartCommitter() =>
        new($"record-store-commit-{NodeId}", MaxQueuedWrites, MaxGroupWeight, w => w.Weight, CommitGroup);

    // ---------------------------------------------------------------- the API

    /// <summary>
    /// Creates or replaces a record's JSON data; its blobs stay. Throws <see cref="BlobBytesPendingException"/>
    /// while a blob it would keep has not arrived here yet, and <see cref="RecordLimitExceededException"/> when the
    /// record would break <see cref="Limits"/> (both apply to every local write, and nothing is written).
    /// </summary>
    public LocalWrite PutData(string table, string id, byte[] json) => Wait(PutDataWrite(table, id, json))[0]!;

    /// <inheritdoc cref="PutData"/>
    public async Task<LocalWrite> PutDataAsync(string table, string id, byte[] json) => (await Run(PutDataWrite(table, id, json)))[0]!;

    /// <summary>
    /// Attaches a blob already durable in the blob store; creates the record ({}) if there is none. A refused write
    /// leaves the blob's file to the caller (or to the orphan collection at the next start).
    /// </summary>
    public LocalWrite PutBlob(string table, string id, BlobRef blob) => Wait(PutBlobWrite(table, id, blob))[0]!;

    /// <inheritdoc cref="PutBlob"/>
    public async Task<LocalWrite> PutBlobAsync(string table, string id, BlobRef blob) => (await Run(PutBlobWrite(table, id, blob)))[0]!;

    /// <summary>
    /// A record's data and some of its blobs in one version: <paramref name="json"/> replaces the data, each of
    /// <paramref name="blobs"/> (already durable in the blob store) replaces its field, other blob fields stay.
    /// </summary>
    public async Task<LocalWrite> PutRecordAsync(string table, string id, byte[] json, IReadOnlyList<BlobRef> blobs)
    {
        if (blobs.Select(b => b.Field).Distinct(StringComparer.Ordinal).Count() != blobs.Count)
            throw new ArgumentException($"record {table}/{id}: a blob field is named twice");
        foreach (var blob in blobs) Blobs.IsPresent(blob); // hashed here, not in the committer, unless its writer already did
        var write = Prepare([new RecordChange(table, id, (existing, version) =>
        {
            var kept = (Live(existing)?.Blobs ?? []).Where(b => blobs.All(n => n.Field != b.Field));
            return new StoredRecord(table, id, version, false, json, kept.Concat(blobs).OrderBy(b => b.Field, StringComparer.Ordinal).ToArray());
        })], json.Length, isBatch: false);
        return (await Run(write))[0]!;
    }

    /// <summary>Writes a tombstone; null when there is no live record to delete.</summary>
    public LocalWrite? Delete(string table, string id) => Wait(DeleteWrite(table, id))[0];

    /// <inheritdoc cref="Delete"/>
    public async Task<LocalWrite?> DeleteAsync(string table, string id) => (await Run(DeleteWrite(table, id)))[0];

    /// <summary>
    /// Creates or replaces the data of several records of <paramref name="table"/> in one transaction: all are written,
    /// with consecutive sequences in the order given, or none is. A record refused (a limit, blob bytes still pending)
    /// throws <see cref="BatchItemRefusedException"/> naming it; an id given twice is an <see cref="ArgumentException"/>.
    /// </summary>
    public Task<IReadOnlyList<LocalWrite>> PutBatchAsync(string table, IReadOnlyList<(string Id, byte[] Json)> records) =>
        PutBatchAsync(table, records.Select(r => (r.Id, r.Json, (IReadOnlyList<BlobRef>)[])).ToArray());

    /// <summary>
    /// The batch with blobs: each record's data replaces its data and each of its blobs (already durable in the blob
    /// store) its field, as <see cref="PutRecordAsync"/> does, all in one transaction or none.
    /// </summary>
    public async Task<IReadOnlyList<LocalWrite>> PutBatchAsync(string table, IReadOnlyList<(string Id, byte[] Json, IReadOnlyList<BlobRef> Blobs)> records)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < records.Count; i++)
        {
            if (!seen.Add(records[i].Id)) throw new ArgumentException($"item {i} (id {records[i].Id}): the id is already in this batch");
            var blobs = records[i].Blobs;
            if (blobs.Select(b => b.Field).Distinct(StringComparer.Ordinal).Count() != blobs.Count)
                throw new ArgumentException($"item {i} (id {records[i].Id}): a blob field is named twice");
            foreach (var blob in blobs) Blobs.IsPresent(blob); // hashed here, not in the committer, unless its writer already did
        }
        var changes = records.Select(r => new RecordChange(table, r.Id, (existing, version) =>
        {
            IReadOnlyList<BlobRef> blobs = Live(existing)?.Blobs ?? [];
            if (r.Blobs.Count > 0)
                blobs = blobs.Where(b => r.Blobs.All(n => n.Field != b.Field)).Concat(r.Blobs).OrderBy(b => b.Field, StringComparer.Ordinal).ToArray();
            return new StoredRecord(table, r.Id, version, false, r.Json, blobs);
        })).ToArray();
        var writes = await Run(Prepare(changes, records.Sum(r => (long)r.Json.Length), isBatch: true));
        return writes.Select(w => w!).ToArray();
    }

    private PendingWrite PutDataWrite(string table, string id, byte[] json) =>
        Prepare([new RecordChange(table, id, (existing, version) =>
            new StoredRecord(table, id, version, false, json, Live(existing)?.Blobs ?? []))], json.Length, isBatch: false);

    private PendingWrite PutBlobWrite(string table, string id, BlobRef blob)
    {
        Blobs.IsPresent(blob); // hashed here, outside the committer, unless its writer already did
        return Prepare([new RecordChange(table, id, (existing, version) => WithBlob(table, id, existing, version, blob))], 0, isBatch: false);
    }

    private PendingWrite DeleteWrite(string table, string id) =>
        Prepare([new RecordChange(table, id, (existing, version) =>
            Live(existing) is null ? null : new StoredRecord(table, id, version, true, [], []))], 0, isBatch: false);

    private PendingWrite Prepare(IReadOnlyList<RecordChange> changes, long dataBytes, bool isBatch)
    {
        if (_writeRefusal is { } refusal) throw new WritesRefusedException(refusal);
        HashKeptBlobs(changes);
        return new PendingWrite(changes, isBatch, (int)Math.Min(int.MaxValue, changes.Count + (dataBytes >> 10)));
    }

    private async Task<IReadOnlyList<LocalWrite?>> Run(PendingWrite write)
    {
        await _committer.EnqueueAsync(write);
        return await write.Done.Task;
    }

    /// <summary>The synchronous form: blocks its caller (as the lock it replaces did), never the committer.</summary>
    private IReadOnlyList<LocalWrite?> Wait(PendingWrite write)
    {
        _committer.EnqueueAsync(write).AsTask().GetAwaiter().GetResult();
        return write.Done.Task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// Hashes the blobs the writes may keep before they reach the committer (a file not hashed since this process
    /// started, say), so that the check in the transaction finds them verified and costs no more than a stat.
    /// </summary>
    private void HashKeptBlobs(IReadOnlyList<RecordChange> changes)
    {
        var kept = new List<BlobRef>();
        using (var tx = _lease.Environment.BeginTransaction(TransactionBeginFlags.ReadOnly))
            foreach (var change in changes)
                kept.AddRange(Live(Read(tx, RecordCodec.Key(change.Table, change.Id)))?.Blobs ?? []);
        foreach (var blob in kept) Blobs.IsPresent(blob);
    }

    // ---------------------------------------------------------------- the committer

    /// <summary>
    /// Commits a group in one transaction. When the transaction fails as a whole (a full map or disk, a failed sync),
    /// each write is tried alone, so each learns its own outcome and no write fails for another's sake.
    /// </summary>
    private void CommitGroup(IReadOnlyList<PendingWrite> group)
    {
        var outcomes = new Outcome[group.Count];
        long lastSequence = 0;
        try
        {
            try
            {
                lastSequence = WriteTogether(group, outcomes);
            }
            catch (Exception) when (group.Count > 1)
            {
                for (var i = 0; i < group.Count; i++)
                {
                    var alone = new Outcome[1];
                    try
                    {
                        lastSequence = Math.Max(lastSequence, WriteTogether([group[i]], alone));
                        outcomes[i] = alone[0];
                    }
                    catch (Exception e)
                    {
                        outcomes[i] = new Outcome(null, e);
                    }
                }
            }
            catch (Exception e)
            {
                outcomes[0] = new Outcome(null, e);
            }
            if (lastSequence > 0) Appended?.Invoke(lastSequence);
        }
        finally
        {
            // Every caller hears back whatever happened above: an unanswered write would wait for ever.
            for (var i = 0; i < group.Count; i++)
            {
                if (outcomes[i].Writes is { } writes) group[i].Done.TrySetResult(writes);
                else group[i].Done.TrySetException(outcomes[i].Error ?? new IOException("the record store's committer failed"));
            }
        }
    }

    /// <summary>
    /// One transaction for <paramref name="group"/>: each write's records are built and checked against what the
    /// transaction holds (so a later write of the group sees an earlier one's record); a write refused leaves the
    /// others be; the rest are appended with consecutive sequences in queue order and committed with one sync.
    /// Returns the last sequence committed (0: none). Throws only when the transaction itself fails.
    /// </summary>
    private long WriteTogether(IReadOnlyList<PendingWrite> group, Outcome[] outcomes)
    {
        var superseded = new List<(byte[] Key, StoredRecord Previous)>();
        long lastSequence = 0;
        lock (_writeGate)
        {
            using (var tx = _lease.Environment.BeginTransaction())
            {
                var next = LastSequence;
                var syncDirectory = false;
                for (var i = 0; i < group.Count; i++)
                {
                    List<(byte[] Key, StoredRecord? Previous, StoredRecord Record, int Index)> made;
                    try
                    {
                        made = Build(tx, group[i], ref syncDirectory);
                    }
                    catch (Exception e)
                    {
                        outcomes[i] = new Outcome(null, e);
                        continue;
                    }
                    var writes = new LocalWrite?[group[i].Changes.Count];
                    foreach (var (key, previous, record, index) in made)
                    {
                        Append(tx, key, record, ++next);
                        if (previous is not null) superseded.Add((key, previous));
                        writes[index] = new LocalWrite(next, record);
                    }
                    outcomes[i] = new Outcome(writes, null);
                }
                if (next == LastSequence) return 0;
                // A kept blob may have been renamed into place by a replication save whose directory fsync has not
                // run yet; a version of this group names it, so it must be durable first.
                if (syncDirectory) Blobs.SyncDirectory();
                Commit(tx, next);
                lastSequence = next;
            }
            DeleteUnreferencedBlobs(superseded);
        }
        return lastSequence;
    }

    /// <summary>The records one write makes, all checked; throws (nothing appended) if any is refused.</summary>
    private List<(byte[] Key, StoredRecord? Previous, StoredRecord Record, int Index)> Build(LightningTransaction tx, PendingWrite write, ref bool syncDirectory)
    {
        var made = new List<(byte[] Key, StoredRecord? Previous, StoredRecord Record, int Index)>(write.Changes.Count);
        var needsSync = false;
        for (var i = 0; i < write.Changes.Count; i++)
        {
            var change = write.Changes[i];
            try
            {
                var key = RecordCodec.Key(change.Table, change.Id);
                var previous = Read(tx, key);
                var record = change.Build(previous, new RecordVersion(previous is null ? Clock.Next() : Clock.After(previous.Version.Hlc), NodeId));
                if (record is null) continue;
                // Before anything else: a record that breaks the cluster's limits (one that would not fit a frame
                // among them) must never enter the audit log, where it would stall every stream that reaches it.
                if (Limits.Check(record) is { } violation) throw new RecordLimitExceededException(violation);
                // Known held only: no hashing in the committer (kept blobs were hashed by the caller, a new one by its writer).
                var pending = record.Blobs.Where(b => !Blobs.IsVerified(b)).Select(b => b.Field).ToArray();
                if (pending.Length > 0) throw new BlobBytesPendingException(change.Table, change.Id, pending);
                if (record.Blobs.Any(b => previous?.Blobs.Any(p => p.FileId == b.FileId) == true)) needsSync = true;
                made.Add((key, previous, record, i));
            }
            catch (Exception e) when (write.IsBatch)
            {
                throw new BatchItemRefusedException(i, change.Id, e);
            }
        }
        syncDirectory |= needsSync;
        return made;
    }
}

/// <summary>
/// A record of a batch was refused (<see cref="Exception.InnerException"/> says why: a limit, blob bytes pending), so
/// nothing of the batch was written.
/// </summary>
public sealed class BatchItemRefusedException(int index, string id, Exception reason)
    : InvalidOperationException($"item {index} (id {id}): {reason.Message}; nothing of the batch was written", reason)
{
    public int Index { get; } = index;
    public string Id { get; } = id;
}
