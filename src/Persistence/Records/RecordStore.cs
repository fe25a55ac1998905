using System.Buffers.Binary;
using System.Text.RegularExpressions;
using ClusterNode.Persistence.Binary;
using ClusterNode.Persistence.Blobs;
using ClusterNode.Persistence.Grouping;
using ClusterNode.Persistence.Lmdb;
using LightningDB;

namespace ClusterNode.Persistence.Records;

/// <summary>
/// The node's records, its audit log and its blob files. Every change (local write or winning replicated
/// record) is one LMDB transaction that writes the record and an audit entry with the next local sequence
/// number, so the audit log orders everything this node holds and a peer can stream it from any point.
/// Writes are serialised by LMDB's single writer; each transaction begins and commits on one thread. Local writes are
/// committed in groups by one committer thread (RecordStore.LocalWrites.cs); replicated frames take the same gate.
/// </summary>
public sealed partial class RecordStore : IDisposable, IReplicationSource
{
    private static readonly byte[] NodeIdKey = "node-id"u8.ToArray();
    private static readonly byte[] ClockKey = "hlc"u8.ToArray();
    private static readonly byte[] LastSequenceKey = "last-seq"u8.ToArray();
    private static readonly byte[] IncarnationKey = "incarnation"u8.ToArray();
    private static readonly byte[] EmptyJson = "{}"u8.ToArray();

    private readonly LmdbLease _lease;
    private readonly LightningDatabase _records;
    private readonly LightningDatabase _audit;
    private readonly LightningDatabase _meta;
    private readonly LightningDatabase _lostBlobs;
    private readonly long _auditRetention;
    private readonly long _mapSizeBytes;
    private readonly long _maxClockOffsetMs;
    private volatile string? _writeRefusal;
    private readonly object _writeGate = new();
    private readonly GroupWorker<PendingWrite> _committer;
    private RecordLimits _limits;
    private long _lastSequence;
    private long _replicatedApplies;

    private RecordStore(RecordStoreSettings settings, Func<long>? wallClockMs)
    {
        _auditRetention = settings.AuditRetentionEntries;
        _mapSizeBytes = settings.MapSizeBytes;
        _maxClockOffsetMs = settings.MaxClockOffsetMs;
        _limits = settings.Limits ?? RecordLimits.Format;
        Blobs = new BlobStore(Path.Combine(settings.DataDirectory, "blobs"));
        _lease = LmdbEnvironments.Acquire(Path.Combine(settings.DataDirectory, "lmdb"), settings.MapSizeBytes);
        try
        {
            using var tx = _lease.Environment.BeginTransaction();
            var create = new DatabaseConfiguration { Flags = DatabaseOpenFlags.Create };
            _records = tx.OpenDatabase("records", create);
            _audit = tx.OpenDatabase("audit", create);
            _meta = tx.OpenDatabase("meta", create);
            _lostBlobs = tx.OpenDatabase("lost-blobs", create);
            NodeId = ResolveNodeId(tx, settings.NodeId);
            IncarnationId = ResolveIncarnation(tx);
            Clock = new HybridLogicalClock(ReadUInt64(tx, ClockKey), wallClockMs);
            OwnWritesMayBeLostAfter = Clock.Last;
            OwnWritesMayBeLostBefore = Clock.Next();
            _lastSequence = (long)ReadUInt64(tx, LastSequenceKey);
            tx.Commit();
            CollectOrphanBlobs();
            _committer = StartCommitter();
        }
        catch
        {
            _lease.Dispose();
            throw;
        }
    }

    public static RecordStore Open(RecordStoreSettings settings, Func<long>? wallClockMs = null) => new(settings, wallClockMs);

    public string NodeId { get; }

    /// <summary>
    /// Made with the data-dir and kept in it: a node restored under the same node id from an empty or other data-dir
    /// has another one, which tells its peers that it may have lost what they had from it (SPEC: restored identity).
    /// </summary>
    public string IncarnationId { get; }
    public HybridLogicalClock Clock { get; }

    /// <summary>
    /// The clock this store restored at open (every version it issued before is at or below it) and one read just after:
    /// a write of this node's own with a version between the two was made by an incarnation of this node whose data
    /// this store does not have (it was restored from an empty or older data-dir), so peers send such writes back.
    /// </summary>
    public ulong OwnWritesMayBeLostAfter { get; }

    public ulong OwnWritesMayBeLostBefore { get; }
    public BlobStore Blobs { get; }
    public long LastSequence => Interlocked.Read(ref _lastSequence);

    /// <summary>Replicated records that changed this store since it was opened (a test and status probe).</summary>
    public long ReplicatedApplies => Interlocked.Read(ref _replicatedApplies);

    /// <summary>Raised after every commit that appended to the audit log, with the new last sequence.</summary>
    public event Action<long>? Appended;

    public const int MaxNodeIdLength = 64;

    [GeneratedRegex(@"^[A-Za-z0-9_.-]{1,64}\z")]
    private static partial Regex NodeIdPattern();

    public static bool IsValidNodeId(string nodeId) => NodeIdPattern().IsMatch(nodeId) && nodeId is not "." and not "..";

    // ---------------------------------------------------------------- limits

    /// <summary>
    /// What a local write may make of a record. Replaced whole and at once, so the cluster can tighten it while
    /// writes run (<see cref="TightenLimits"/>); a write already past its check finishes under the limits it read.
    /// </summary>
    public RecordLimits Limits
    {
        get => Volatile.Read(ref _limits);
        set => Volatile.Write(ref _limits, value ?? throw new ArgumentNullException(nameof(value)));
    }

    /// <summary>Lowers the limits to the smallest of the current ones and <paramref name="other"/>; returns the result.</summary>
    public RecordLimits TightenLimits(RecordLimits other)
    {
        while (true)
        {
            var current = Limits;
            var tightened = current.Min(other);
            if (ReferenceEquals(Interlocked.CompareExchange(ref _limits, tightened, current), current)) return tightened;
        }
    }

    /// <summary>
    /// Whether <see cref="PutBlob"/> of <paramref name="field"/> with <paramref name="sizeBytes"/> would be refused by
    /// the limits as the record stands now: lets a caller refuse before receiving the blob's bytes. The write itself
    /// checks again.
    /// </summary>
    public RecordLimitViolation? PutBlobProblem(string table, string id, string field, long sizeBytes)
    {
        var placeholder = new BlobRef(field, BlobStore.NewFileId(), sizeBytes, new byte[RecordCodec.Sha256Bytes]);
        return Limits.Check(WithBlob(table, id, Get(table, id), new RecordVersion(0, NodeId), placeholder));
    }

    // ---------------------------------------------------------------- local writes

    // PutData, PutBlob, PutRecordAsync, Delete and PutBatchAsync: RecordStore.LocalWrites.cs (group commit).

    private static StoredRecord WithBlob(string table, string id, StoredRecord? existing, RecordVersion version, BlobRef blob)
    {
        var live = Live(existing);
        var blobs = (live?.Blobs ?? []).Where(b => b.Field != blob.Field).Append(blob).OrderBy(b => b.Field, StringComparer.Ordinal).ToArray();
        return new StoredRecord(table, id, version, false, live?.Data ?? EmptyJson, blobs);
    }

    private static StoredRecord? Live(StoredRecord? record) => record is { Deleted: false } ? record : null;

    /// <summary>
    /// While set, every local write throws <see cref="WritesRefusedException"/> with this reason (this node's clock
    /// is too far from its peers'); replicated writes still apply. Null takes writes again.
    /// </summary>
    public string? WriteRefusal
    {
        get => _writeRefusal;
        set => _writeRefusal = value;
    }

    // ---------------------------------------------------------------- replicated writes

    /// <summary>
    /// Applies a frame of replicated records in one transaction (one fsync for the frame). A newer version
    /// wins, an older one is dropped, the same version changes nothing but names the blobs whose local file is
    /// missing or does not hash right, so a re-streamed record repairs them. An older version also names the
    /// blobs it shares with the current version that are missing here.
    /// </summary>
    public IReadOnlyList<ApplyOutcome> ApplyReplicated(IReadOnlyList<StoredRecord> records)
    {
        var outcomes = new ApplyOutcome[records.Count];
        var superseded = new List<(byte[] Key, StoredRecord Previous)>();
        long lastSequence = 0;
        var scratch = new ByteWriter(512);
        lock (_writeGate)
        {
            var next = LastSequence;
            using (var tx = _lease.Environment.BeginTransaction())
            {
                // The clock only ever takes the largest it observes: one observation for the batch (a lock and a read of
                // the wall clock) does what one per record did.
                ulong latest = 0;
                foreach (var record in records) latest = Math.Max(latest, record.Version.Hlc);
                if (records.Count > 0) Clock.Observe(latest, _maxClockOffsetMs);
                for (var i = 0; i < records.Count; i++)
                {
                    var record = records[i];
                    var key = RecordCodec.Key(record.Table, record.Id);
                    var existing = Read(tx, key);
                    if (existing is null || record.Version > existing.Version)
                    {
                        lastSequence = ++next;
                        AppendReplicated(tx, key, record, lastSequence, scratch);
                        if (existing is not null) superseded.Add((key, existing));
                        // Only a blob known held (hashed since its file was written) is taken as held here; any other
                        // file is hashed after the commit, outside the write lock.
                        outcomes[i] = new ApplyOutcome(ApplyKind.Applied, lastSequence,
                            record.Blobs.Count == 0 ? [] : record.Blobs.Where(b => !Blobs.IsVerified(b)).ToArray());
                    }
                    else if (record.Version == existing.Version)
                    {
                        outcomes[i] = SameOutcome;
                    }
                    else
                    {
                        // An older version is dropped, but its bytes may still be owed: a newer local write can carry
                        // over a blob whose bytes had not arrived yet, and only this record brings them.
                        var owed = record.Blobs.Where(b => existing.Blobs.Any(b.SameContentAs) && !Blobs.IsVerified(b)).ToArray();
                        outcomes[i] = new ApplyOutcome(ApplyKind.Stale, 0, owed);
                    }
                }
                if (lastSequence > 0) Commit(tx, lastSequence);
                else tx.Abort();
            }
            DeleteUnreferencedBlobs(superseded);
        }
        // Outside the transaction, because hashing a large file must not hold the writer: the repair path (the same
        // version again), and files of a blob not known held that may hold other bytes than the record's.
        var foundPresent = false;
        var applied = 0;
        for (var i = 0; i < records.Count; i++)
        {
            if (outcomes[i].Kind == ApplyKind.Applied) applied++;
            if (records[i].Blobs.Count == 0) continue; // most records: nothing to look for
            if (outcomes[i].Kind == ApplyKind.Same)
                outcomes[i] = outcomes[i] with { BlobsToSave = records[i].Blobs.Where(b => !Blobs.Verify(b)).ToArray() };
            else if (outcomes[i].BlobsToSave.Count > 0)
                outcomes[i] = outcomes[i] with { BlobsToSave = outcomes[i].BlobsToSave.Where(b => !Blobs.IsPresent(b)).ToArray() };
            foundPresent |= outcomes[i].BlobsToSave.Count < records[i].Blobs.Count;
        }
        // A blob found present may have been renamed into place by a save whose directory fsync has not run
        // yet; the caller will count it durable, so make it so (one fsync for the frame, only when needed).
        if (foundPresent) Blobs.SyncDirectory();
        if (applied > 0)
        {
            Interlocked.Add(ref _replicatedApplies, applied);
            Appended?.Invoke(lastSequence);
        }
        return outcomes;
    }

    /// <summary>The outcome of a record this store already holds in the same version, before its blobs are looked at.</summary>
    private static readonly ApplyOutcome SameOutcome = new(ApplyKind.Same, 0, []);

    // ---------------------------------------------------------------- reads

    public StoredRecord? Get(string table, string id)
    {
        using var tx = _lease.Environment.BeginTransaction(TransactionBeginFlags.ReadOnly);
        return Read(tx, RecordCodec.Key(table, id));
    }

    /// <summary>Audit entries from <paramref name="fromSequence"/> on, at most <paramref name="maxCount"/>.</summary>
    public IReadOnlyList<AuditEntry> ReadAudit(long fromSequence, int maxCount) => ScanAudit(fromSequence, maxCount, (_, entry) => entry);

    /// <summary>
    /// Audit entries from <paramref name="fromSequence"/> on with their records as they stand now, in one read
    /// transaction: what a sender reads for each frame, without a transaction per record.
    /// </summary>
    public IReadOnlyList<LoggedRecord> ReadLog(long fromSequence, int maxCount) =>
        ScanAudit(fromSequence, maxCount, (tx, entry) =>
        {
            var (found, _, stored) = tx.Get(_records, RecordCodec.Key(entry.Table, entry.Id));
            return new LoggedRecord(entry, found == MDBResultCode.Success ? RecordCodec.DecodeValue(entry.Table, entry.Id, stored.AsSpan()) : null);
        });

    /// <summary>
    /// As <see cref="ReadLog"/>, but a record at its entry's version with no blob comes as its stored body, copied out
    /// of the transaction without being decoded: the sender puts those bytes into its frame as they are.
    /// </summary>
    public IReadOnlyList<LoggedRecord> ReadLogForSending(long fromSequence, int maxCount) =>
        ScanAudit(fromSequence, maxCount, (tx, entry) =>
        {
            var (found, _, stored) = tx.Get(_records, RecordCodec.Key(entry.Table, entry.Id));
            if (found != MDBResultCode.Success) return new LoggedRecord(entry, null);
            var value = stored.AsSpan();
            var body = RecordCodec.PlainBodyAt(value, entry.Version);
            return body.IsEmpty ? new LoggedRecord(entry, RecordCodec.DecodeValue(entry.Table, entry.Id, value)) : new LoggedRecord(entry, null, body.ToArray());
        });

    /// <summary>Up to <paramref name="maxCount"/> audit entries from <paramref name="fromSequence"/> on, each mapped in the one read transaction.</summary>
    private List<T> ScanAudit<T>(long fromSequence, int maxCount, Func<LightningTransaction, AuditEntry, T> map)
    {
        var entries = new List<T>(Math.Min(maxCount, 1024));
        using var tx = _lease.Environment.BeginTransaction(TransactionBeginFlags.ReadOnly);
        using var cursor = tx.CreateCursor(_audit);
        var code = cursor.SetRange(RecordCodec.SequenceKey(Math.Max(1, fromSequence)));
        while (code == MDBResultCode.Success && entries.Count < maxCount)
        {
            var (_, key, value) = cursor.GetCurrent();
            entries.Add(map(tx, RecordCodec.DecodeAudit(RecordCodec.ParseSequenceKey(key.AsSpan()), value.AsSpan())));
            code = cursor.Next().resultCode;
        }
        return entries;
    }

    /// <summary>The oldest audit sequence still kept; LastSequence + 1 when the log is empty.</summary>
    public long FirstRetainedSequence
    {
        get
        {
            using var tx = _lease.Environment.BeginTransaction(TransactionBeginFlags.ReadOnly);
            using var cursor = tx.CreateCursor(_audit);
            var (code, key, _) = cursor.First();
            return code == MDBResultCode.Success ? RecordCodec.ParseSequenceKey(key.AsSpan()) : LastSequence + 1;
        }
    }

    /// <summary>Records in key order (table, then id) after <paramref name="afterKey"/>, at most <paramref name="maxCount"/>.</summary>
    public IReadOnlyList<StoredRecord> Scan(byte[]? afterKey, int maxCount, string? table = null)
    {
        var records = new List<StoredRecord>(Math.Min(maxCount, 1024));
        var prefix = table is null ? null : RecordCodec.Key(table, "");
        using var tx = _lease.Environment.BeginTransaction(TransactionBeginFlags.ReadOnly);
        using var cursor = tx.CreateCursor(_records);
        var start = afterKey ?? prefix;
        var code = start is null ? cursor.First().resultCode : cursor.SetRange(start);
        while (code == MDBResultCode.Success && records.Count < maxCount)
        {
            var (_, key, value) = cursor.GetCurrent();
            var keySpan = key.AsSpan();
            if (prefix is not null && !keySpan.StartsWith(prefix)) break;
            if (afterKey is null || !keySpan.SequenceEqual(afterKey))
                records.Add(RecordCodec.DecodeValue(keySpan, value.AsSpan()));
            code = cursor.Next().resultCode;
        }
        return records;
    }

    IReadOnlyList<StoredRecord> IReplicationSource.Scan(byte[]? afterKey, int maxCount) => Scan(afterKey, maxCount);

    public Stream? TryOpenBlob(BlobRef blob)
    {
        if (IsDamaged(blob.FileId)) return null;
        var file = Blobs.TryOpenRead(blob.FileId);
        if (file is null || file.Length == blob.Size) return file;
        file.Dispose();
        return null;
    }

    /// <summary>The names of the tables that hold at least one record (live or deleted), in order.</summary>
    public IReadOnlyList<string> Tables()
    {
        var tables = new List<string>();
        using var tx = _lease.Environment.BeginTransaction(TransactionBeginFlags.ReadOnly);
        using var cursor = tx.CreateCursor(_records);
        var code = cursor.First().resultCode;
        while (code == MDBResultCode.Success)
        {
            var (_, key, _) = cursor.GetCurrent();
            var table = RecordCodec.ParseKey(key.AsSpan()).Table;
            tables.Add(table);
            // Jump past every key of this table: names hold no byte below '-', so table + 0x01 sorts after them all.
            var next = System.Text.Encoding.UTF8.GetBytes(table + "\u0001");
            code = cursor.SetRange(next);
        }
        return tables;
    }

    // ---------------------------------------------------------------- internals

    private StoredRecord? Read(LightningTransaction tx, byte[] key)
    {
        var (code, _, value) = tx.Get(_records, key);
        return code == MDBResultCode.Success ? RecordCodec.DecodeValue(key, value.AsSpan()) : null;
    }

    private void Append(LightningTransaction tx, byte[] key, StoredRecord record, long sequence)
    {
        Put(tx, _records, key, RecordCodec.EncodeValue(record));
        Put(tx, _audit, RecordCodec.SequenceKey(sequence), RecordCodec.EncodeAudit(new AuditEntry(sequence, record.Table, record.Id, record.Version)));
    }

    /// <summary>
    /// As <see cref="Append"/>, encoding into <paramref name="scratch"/> and putting from it: a frame of thousands of
    /// replicated records makes no arrays for their values.
    /// </summary>
    private void AppendReplicated(LightningTransaction tx, byte[] key, StoredRecord record, long sequence, ByteWriter scratch)
    {
        RecordCodec.EncodeValue(scratch.Clear(), record);
        ThrowOnError(tx.Put(_records, key, scratch.Written, PutOptions.None), "put");
        Span<byte> sequenceKey = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(sequenceKey, sequence);
        RecordCodec.EncodeAudit(scratch.Clear(), new AuditEntry(sequence, record.Table, record.Id, record.Version));
        ThrowOnError(tx.Put(_audit, sequenceKey, scratch.Written, PutOptions.None), "put");
    }

    /// <summary>
    /// Commits, then publishes <paramref name="lastSequence"/>: <see cref="LastSequence"/> never names an entry
    /// that is not committed (a copy starting at it must find everything up to it).
    /// </summary>
    private void Commit(LightningTransaction tx, long lastSequence)
    {
        Put(tx, _meta, LastSequenceKey, UInt64Bytes((ulong)lastSequence));
        Put(tx, _meta, ClockKey, UInt64Bytes(Clock.Last));
        TrimAudit(tx, lastSequence, appended: lastSequence - LastSequence);
        ThrowOnError(tx.Commit(), "commit");
        Interlocked.Exchange(ref _lastSequence, lastSequence);
    }

    /// <summary>
    /// Entries a commit may trim beyond as many as it appended: the log converges on the retention (after a frame of
    /// hundreds of entries, or a retention lowered at a restart) a bounded step per commit, so no commit grows large.
    /// </summary>
    private const int AuditTrimCatchUp = 64;

    /// <summary>
    /// Drops the oldest entries beyond the retention: at least as many as this commit <paramref name="appended"/>,
    /// so the log never outgrows the retention under replicated frames, and at most <see cref="AuditTrimCatchUp"/> more.
    /// </summary>
    private void TrimAudit(LightningTransaction tx, long lastSequence, long appended)
    {
        var keepFrom = lastSequence - _auditRetention + 1;
        if (keepFrom <= 1) return;
        using var cursor = tx.CreateCursor(_audit);
        for (long removed = 0; removed < appended + AuditTrimCatchUp; removed++)
        {
            var (code, key, _) = cursor.First();
            if (code != MDBResultCode.Success || RecordCodec.ParseSequenceKey(key.AsSpan()) >= keepFrom) return;
            ThrowOnError(cursor.Delete(), "trim of the audit log");
        }
    }

    /// <summary>
    /// Deletes the files of replaced versions that the current version no longer names. Runs under the write
    /// gate right after the commit, so no other write can slip in between and name a file again.
    /// </summary>
    private void DeleteUnreferencedBlobs(IReadOnlyList<(byte[] Key, StoredRecord Previous)> superseded)
    {
        if (superseded.Count == 0 || superseded.All(s => s.Previous.Blobs.Count == 0)) return;
        using var tx = _lease.Environment.BeginTransaction(TransactionBeginFlags.ReadOnly);
        foreach (var (key, previous) in superseded)
        {
            var current = Read(tx, key);
            foreach (var blob in previous.Blobs)
            {
                if (current?.Blobs.Any(b => b.FileId == blob.FileId) == true) continue;
                try { Blobs.Delete(blob.FileId); } catch (IOException) { /* an orphan is collected at next start */ }
            }
        }
    }

    /// <summary>Blob files no record refers to: left by a crash between blob and record, or saved for a version since replaced.</summary>
    private void CollectOrphanBlobs()
    {
        var referenced = new HashSet<string>();
        byte[]? after = null;
        while (true)
        {
            var page = Scan(after, 4096);
            if (page.Count == 0) break;
            foreach (var record in page)
                foreach (var blob in record.Blobs) referenced.Add(blob.FileId);
            after = RecordCodec.Key(page[^1].Table, page[^1].Id);
        }
        foreach (var fileId in Blobs.FileIds().Where(f => !referenced.Contains(f)).ToList()) Blobs.Delete(fileId);
    }

    private string ResolveNodeId(LightningTransaction tx, string configured)
    {
        var (code, _, value) = tx.Get(_meta, NodeIdKey);
        var stored = code == MDBResultCode.Success ? System.Text.Encoding.UTF8.GetString(value.AsSpan()) : null;
        if (configured.Length > 0 && !IsValidNodeId(configured))
            throw new ArgumentException($"cluster-node.node-id '{configured}' is not 1 to 64 letters, digits, '-', '_' or '.'");
        if (stored is not null && configured.Length > 0 && stored != configured)
            throw new InvalidOperationException($"cluster-node.node-id '{configured}' differs from '{stored}' kept in this data-dir");
        var nodeId = stored ?? (configured.Length > 0 ? configured : "n" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6)));
        if (stored is null) Put(tx, _meta, NodeIdKey, System.Text.Encoding.UTF8.GetBytes(nodeId));
        return nodeId;
    }

    private string ResolveIncarnation(LightningTransaction tx)
    {
        var (code, _, value) = tx.Get(_meta, IncarnationKey);
        if (code == MDBResultCode.Success) return System.Text.Encoding.UTF8.GetString(value.AsSpan());
        var made = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
        Put(tx, _meta, IncarnationKey, System.Text.Encoding.UTF8.GetBytes(made));
        return made;
    }

    private ulong ReadUInt64(LightningTransaction tx, byte[] key)
    {
        var (code, _, value) = tx.Get(_meta, key);
        return code == MDBResultCode.Success ? BinaryPrimitives.ReadUInt64BigEndian(value.AsSpan()) : 0;
    }

    private static byte[] UInt64Bytes(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        return bytes;
    }

    private void Put(LightningTransaction tx, LightningDatabase db, byte[] key, byte[] value) =>
        ThrowOnError(tx.Put(db, key, value), "put");

    /// <summary>
    /// The one place LMDB write errors become exceptions: a full map or disk as <see cref="StoreFullException"/>, with
    /// what to do about it. The transaction is then aborted (LMDB ends a failed commit; disposal ends one that failed a
    /// put), so nothing of it is stored.
    /// </summary>
    private void ThrowOnError(MDBResultCode code, string operation)
    {
        if (code == MDBResultCode.Success) return;
        if (code == MDBResultCode.MapFull) throw StoreFullException.MapFull(_mapSizeBytes);
        // LMDB passes the system's error through as the result code when a write to its file fails.
        if (StoreFullException.IsOutOfDiskSpaceCode((int)code)) throw StoreFullException.DiskFull();
        throw new IOException($"LMDB {operation} failed: {code}");
    }

    public void Dispose()
    {
        _committer.Dispose(); // writes already queued are committed first
        _lease.Dispose();
    }
}
