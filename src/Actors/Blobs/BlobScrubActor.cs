using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using ClusterNode.Actors.Telemetry;
using ClusterNode.Persistence.Records;
using static ClusterNode.Actors.Blobs.BlobScrub;

namespace ClusterNode.Actors.Blobs;

/// <summary>
/// Runs on the I/O dispatcher, one bounded step per message, so its reads never hold a thread for long and a status
/// question is answered between two steps. A pass has four stages:
/// listing the blob directory (files older than the grace become orphan candidates), walking every live record in key
/// order (each blob's file hashed a step at a time, paced by <see cref="ScrubPace"/>; every file a record names stops
/// being a candidate), reconciling with the audit log (a record written meanwhile behind the walk names its files
/// too), and deleting the candidates left.
/// </summary>
internal sealed class BlobScrubActor : ReceiveActor, IWithTimers
{
    private sealed record StartPass
    {
        public static readonly StartPass Instance = new();
    }

    private sealed record Step
    {
        public static readonly Step Instance = new();
    }

    private enum Stage { Listing, Walking, Reconciling, Deleting }

    // Bounds on one step's work besides the hashing, so no step holds the dispatcher's thread for long.
    private const int FilesListedPerStep = 1024;
    private const int RecordsPerPage = 256;
    private const int AuditEntriesPerStep = 1024;
    private const int DeletionsPerStep = 256;

    /// <summary>What the scrub found since the node started.</summary>
    private sealed record Counts(
        long PassesCompleted = 0,
        long? LastPassFiles = null,
        long? LastPassBytes = null,
        TimeSpan? LastPassDuration = null,
        long BytesHashed = 0,
        long FilesVerified = 0,
        long Missing = 0,
        long Corrupt = 0,
        long LostSkipped = 0,
        long OrphansDeleted = 0,
        DateTimeOffset? LastPassEndedAt = null);

    private readonly RecordStore _store;
    private readonly BlobScrub.Settings _settings;
    private readonly ScrubPace _pace;
    private readonly byte[] _buffer;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly NodeMetrics _metrics = NodeTelemetry.Of(Context.System);
    private Counts _counts = new();
    private Pass? _pass;
    private DateTimeOffset? _nextPassAt;

    public BlobScrubActor(RecordStore store, BlobScrub.Settings settings)
    {
        _store = store;
        _settings = settings;
        _pace = new ScrubPace(settings.RateBytesPerSecond, settings.StepBytes);
        _buffer = new byte[settings.StepBytes];
        Idle();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>
    /// The first pass begins a minute after start (or after one interval, if shorter): soon enough that a node restarted
    /// more often than the interval still scrubs, late enough not to compete with its catch-up after a restart.
    /// </summary>
    private static readonly TimeSpan FirstPassAfter = TimeSpan.FromMinutes(1);

    protected override void PreStart() => ScheduleNextPass(-_settings.Interval + (FirstPassAfter < _settings.Interval ? FirstPassAfter : _settings.Interval));

    protected override void PostStop() => _pass?.Dispose();

    // ---------------------------------------------------------------- behaviours

    private void Idle()
    {
        Receive<StartPass>(_ => BeginPass());
        Receive<GetStatus>(_ => Sender.Tell(CurrentStatus()));
    }

    private void Scrubbing()
    {
        Receive<Step>(_ => OnStep());
        Receive<GetStatus>(_ => Sender.Tell(CurrentStatus()));
    }

    private void BeginPass()
    {
        _nextPassAt = null;
        _pass = new Pass(_clock.Elapsed, DateTime.UtcNow, _store.LastSequence);
        try
        {
            _pass.Listing = _store.Blobs.FileIds().GetEnumerator();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Warning("scrub: cannot list the blob directory, no orphan is deleted this pass: {0}", e.Message);
            _pass.OrphansKnown = false;
            _pass.Stage = Stage.Walking;
        }
        Become(Scrubbing);
        Self.Tell(Step.Instance);
    }

    /// <summary>One bounded piece of the pass, then the next step now or when the pace allows.</summary>
    private void OnStep()
    {
        var pass = _pass!;
        TimeSpan? next = pass.Stage switch
        {
            Stage.Listing => ListSome(pass),
            Stage.Walking => WalkSome(pass),
            Stage.Reconciling => ReconcileSome(pass),
            _ => DeleteSome(pass),
        };
        if (next is not { } delay)
        {
            EndPass(pass);
            Publish();
            return;
        }
        Publish();
        // Exactly one step is ever pending: either this message or this timer.
        if (delay <= TimeSpan.Zero) Self.Tell(Step.Instance);
        else Timers.StartSingleTimer(Step.Instance, Step.Instance, delay);
    }

    private void EndPass(Pass pass)
    {
        pass.Dispose();
        _pass = null;
        _counts = _counts with
        {
            PassesCompleted = _counts.PassesCompleted + 1,
            LastPassFiles = pass.Files,
            LastPassBytes = pass.Bytes,
            LastPassDuration = _clock.Elapsed - pass.StartedAt,
            LastPassEndedAt = DateTimeOffset.UtcNow,
        };
        _log.Info("scrub: pass {0} done in {1:F1} s: {2} files, {3} bytes hashed, {4} found damaged, {5} orphans deleted",
            _counts.PassesCompleted, _counts.LastPassDuration!.Value.TotalSeconds, pass.Files, pass.Bytes, pass.Damaged, pass.OrphansDeleted);
        Become(Idle);
        // Start to start: a pass that took longer than the interval is followed by the next one at once.
        ScheduleNextPass(pass.StartedAt);
    }

    private void ScheduleNextPass(TimeSpan lastStart)
    {
        var delay = lastStart + _settings.Interval - _clock.Elapsed;
        if (delay < TimeSpan.Zero) delay = TimeSpan.Zero;
        _nextPassAt = DateTimeOffset.UtcNow + delay;
        Timers.StartSingleTimer(StartPass.Instance, StartPass.Instance, delay);
    }

    // ---------------------------------------------------------------- stage 1: orphan candidates

    private TimeSpan? ListSome(Pass pass)
    {
        // Only files already older than the grace when the pass began: anything written since is not an orphan yet.
        var oldBefore = pass.StartedUtc - _settings.OrphanGrace;
        try
        {
            for (var i = 0; i < FilesListedPerStep; i++)
            {
                if (!pass.Listing!.MoveNext())
                {
                    pass.Stage = Stage.Walking;
                    return TimeSpan.Zero;
                }
                var fileId = pass.Listing.Current;
                var info = new FileInfo(_store.Blobs.PathOf(fileId));
                if (info.Exists && info.LastWriteTimeUtc < oldBefore) pass.Candidates.Add(Key(fileId));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Warning("scrub: listing the blob directory failed, no orphan is deleted this pass: {0}", e.Message);
            pass.OrphansKnown = false;
            pass.Candidates.Clear();
            pass.Stage = Stage.Walking;
        }
        return TimeSpan.Zero;
    }

    // ---------------------------------------------------------------- stage 2: every live record's blobs

    private TimeSpan? WalkSome(Pass pass)
    {
        if (pass.Current is { } file) return HashSome(pass, file);
        if (pass.Due.TryDequeue(out var due))
        {
            Open(pass, due.Table, due.Id, due.Blob);
            return TimeSpan.Zero;
        }
        if (!pass.ScanDone)
        {
            LoadPage(pass);
            return TimeSpan.Zero;
        }
        pass.Stage = Stage.Reconciling;
        return TimeSpan.Zero;
    }

    private void LoadPage(Pass pass)
    {
        var page = _store.Scan(pass.AfterKey, RecordsPerPage);
        if (page.Count == 0)
        {
            pass.ScanDone = true;
            return;
        }
        foreach (var record in page)
        {
            if (record.Deleted) continue;
            foreach (var blob in record.Blobs)
            {
                pass.Candidates.Remove(Key(blob.FileId));
                pass.Due.Enqueue((record.Table, record.Id, blob));
            }
        }
        pass.AfterKey = RecordCodec.Key(page[^1].Table, page[^1].Id);
    }

    private void Open(Pass pass, string table, string id, BlobRef blob)
    {
        // The repair gave up on it: nothing here to check, and it is already reported lost.
        if (_store.LostBlob(blob.FileId) is not null)
        {
            _counts = _counts with { LostSkipped = _counts.LostSkipped + 1 };
            return;
        }
        FileStream? stream;
        try
        {
            stream = _store.Blobs.TryOpenRead(blob.FileId);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Damaged(pass, table, id, blob, $"unreadable: {e.Message}", missing: false, WrittenUtc(blob.FileId));
            return;
        }
        if (stream is null)
        {
            Damaged(pass, table, id, blob, "missing", missing: true, writtenUtc: null);
            return;
        }
        if (stream.Length != blob.Size)
        {
            var length = stream.Length;
            stream.Dispose();
            Damaged(pass, table, id, blob, $"{length} bytes on disk, {blob.Size} expected", missing: true, writtenUtc: null);
            return;
        }
        pass.Current = new OpenFile(table, id, blob, stream, File.GetLastWriteTimeUtc(stream.SafeFileHandle));
    }

    /// <summary>Reads and hashes one step of the open file; concludes it at its end. Returns the pace's wait.</summary>
    private TimeSpan HashSome(Pass pass, OpenFile file)
    {
        var want = (int)Math.Min(_buffer.Length, file.Blob.Size - file.Read);
        int read;
        try
        {
            read = want == 0 ? 0 : file.Stream.Read(_buffer, 0, want);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            pass.CloseCurrent();
            Damaged(pass, file.Table, file.Id, file.Blob, $"unreadable: {e.Message}", missing: false, file.WrittenUtc);
            return TimeSpan.Zero;
        }
        file.Hash.AppendData(_buffer, 0, read);
        file.Read += read;
        pass.Bytes += read;
        _counts = _counts with { BytesHashed = _counts.BytesHashed + read };
        var wait = _pace.Spent(read, _clock.Elapsed);
        if (read > 0 && file.Read < file.Blob.Size) return wait;

        var problem = file.Read < file.Blob.Size ? $"ended after {file.Read} of {file.Blob.Size} bytes"
            : file.Hash.GetHashAndReset().AsSpan().SequenceEqual(file.Blob.Sha256) ? null
            : "its bytes do not hash to the record's sha256";
        pass.CloseCurrent();
        if (problem is null) Verified(pass, file);
        else Damaged(pass, file.Table, file.Id, file.Blob, problem, missing: false, file.WrittenUtc);
        return wait;
    }

    private void Verified(Pass pass, OpenFile file)
    {
        pass.Files++;
        _counts = _counts with { FilesVerified = _counts.FilesVerified + 1 };
        // Only if the file at the path is still the one hashed (a repair may have renamed another over it meanwhile).
        if (WrittenUtc(file.Blob.FileId) == file.WrittenUtc) _store.Blobs.MarkVerified(file.Blob);
    }

    /// <summary>
    /// Reports a damaged file unless what was found no longer holds: the record changed (its new version names another
    /// file, or none), a missing (or wrong-size) file arrived meanwhile, or a file found wrong was replaced since it was
    /// opened (<paramref name="writtenUtc"/>: its last write time then).
    /// </summary>
    private void Damaged(Pass pass, string table, string id, BlobRef blob, string problem, bool missing, DateTime? writtenUtc)
    {
        pass.Files++;
        var current = _store.Get(table, id) is { Deleted: false } record ? record.Blob(blob.Field) : null;
        if (current is null || !current.SameContentAs(blob)) return;
        if (missing ? _store.Blobs.IsPresent(blob) : WrittenUtc(blob.FileId) != writtenUtc) return;

        pass.Damaged++;
        _counts = missing ? _counts with { Missing = _counts.Missing + 1 } : _counts with { Corrupt = _counts.Corrupt + 1 };
        _store.Blobs.ForgetVerified(blob.FileId);
        _log.Warning("scrub: blob {0} of {1}/{2} (file {3}) is damaged: {4}", blob.Field, table, id, blob.FileId, problem);
        try
        {
            _store.ReportDamagedBlob(table, id, blob, problem);
        }
        catch (Exception e)
        {
            // A listener's failure is its own: the scrub goes on with the next file.
            _log.Error(e, "scrub: a listener of damaged blobs failed on file {0}", blob.FileId);
        }
    }

    private DateTime? WrittenUtc(string fileId)
    {
        var info = new FileInfo(_store.Blobs.PathOf(fileId));
        return info.Exists ? info.LastWriteTimeUtc : null;
    }

    // ---------------------------------------------------------------- stages 3 and 4: orphans

    /// <summary>
    /// Records written since the pass began, possibly behind the walk, may name a candidate; the audit log says which
    /// they are. If it was trimmed past the pass's start, nothing can be known and no orphan is deleted this pass.
    /// </summary>
    private TimeSpan? ReconcileSome(Pass pass)
    {
        if (!pass.OrphansKnown || pass.Candidates.Count == 0) return null;
        if (pass.AuditNext == 0)
        {
            if (_store.FirstRetainedSequence > pass.StartSequence + 1)
            {
                _log.Info("scrub: the audit log was trimmed past this pass's start; orphans are left to the next pass");
                return null;
            }
            pass.AuditNext = pass.StartSequence + 1;
        }
        var entries = _store.ReadAudit(pass.AuditNext, AuditEntriesPerStep);
        foreach (var entry in entries)
        {
            if (_store.Get(entry.Table, entry.Id) is { } record)
                foreach (var blob in record.Blobs) pass.Candidates.Remove(Key(blob.FileId));
        }
        if (entries.Count == AuditEntriesPerStep)
        {
            pass.AuditNext = entries[^1].Sequence + 1;
            return TimeSpan.Zero;
        }
        pass.Orphans = new Queue<UInt128>(pass.Candidates);
        pass.Stage = Stage.Deleting;
        return TimeSpan.Zero;
    }

    private TimeSpan? DeleteSome(Pass pass)
    {
        var oldBefore = DateTime.UtcNow - _settings.OrphanGrace;
        for (var i = 0; i < DeletionsPerStep; i++)
        {
            if (!pass.Orphans!.TryDequeue(out var key)) return null;
            var fileId = FileId(key);
            try
            {
                // Looked at again: a file written since it was listed is no orphan of this pass.
                if (WrittenUtc(fileId) is not { } written || written >= oldBefore) continue;
                _store.Blobs.Delete(fileId);
                pass.OrphansDeleted++;
                _counts = _counts with { OrphansDeleted = _counts.OrphansDeleted + 1 };
                _log.Info("scrub: deleted orphan blob file {0}, last written {1:o}, named by no record", fileId, written);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.Warning("scrub: could not delete orphan blob file {0}: {1}", fileId, e.Message);
            }
        }
        return TimeSpan.Zero;
    }

    // ---------------------------------------------------------------- status

    /// <summary>The node's scrub metrics read these; a few field writes per step.</summary>
    private void Publish() => _metrics.Scrub(_counts.PassesCompleted, _counts.BytesHashed, _counts.FilesVerified,
        _pass?.Files ?? 0, _pass?.Bytes ?? 0, _counts.Missing, _counts.Corrupt);

    private BlobScrub.Status CurrentStatus() => new(
        Running: _pass is not null,
        PassesCompleted: _counts.PassesCompleted,
        PassFiles: _pass?.Files ?? 0,
        PassBytes: _pass?.Bytes ?? 0,
        LastPassFiles: _counts.LastPassFiles,
        LastPassBytes: _counts.LastPassBytes,
        LastPassDuration: _counts.LastPassDuration,
        BytesHashed: _counts.BytesHashed,
        FilesVerified: _counts.FilesVerified,
        Missing: _counts.Missing,
        Corrupt: _counts.Corrupt,
        LostSkipped: _counts.LostSkipped,
        OrphansDeleted: _counts.OrphansDeleted,
        LastPassEndedAt: _counts.LastPassEndedAt,
        NextPassAt: _nextPassAt);

    // File ids are 128 bits in hex: kept as numbers, a pass's candidate set takes a fraction of the memory of strings.
    private static UInt128 Key(string fileId) => UInt128.Parse(fileId, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    private static string FileId(UInt128 key) => key.ToString("x32", CultureInfo.InvariantCulture);

    /// <summary>One pass's position and findings; it owns the file being hashed.</summary>
    private sealed class Pass(TimeSpan startedAt, DateTime startedUtc, long startSequence) : IDisposable
    {
        public TimeSpan StartedAt { get; } = startedAt;
        public DateTime StartedUtc { get; } = startedUtc;
        public long StartSequence { get; } = startSequence;
        public Stage Stage { get; set; }
        public IEnumerator<string>? Listing { get; set; }
        public HashSet<UInt128> Candidates { get; } = new();
        public bool OrphansKnown { get; set; } = true;
        public byte[]? AfterKey { get; set; }
        public bool ScanDone { get; set; }
        public Queue<(string Table, string Id, BlobRef Blob)> Due { get; } = new();
        public OpenFile? Current { get; set; }
        public long AuditNext { get; set; }
        public Queue<UInt128>? Orphans { get; set; }
        public long Files { get; set; }
        public long Bytes { get; set; }
        public long Damaged { get; set; }
        public long OrphansDeleted { get; set; }

        public void CloseCurrent()
        {
            Current?.Dispose();
            Current = null;
        }

        public void Dispose()
        {
            CloseCurrent();
            Listing?.Dispose();
        }
    }

    /// <summary>The file being hashed, read one step at a time, with the last write time it had when opened.</summary>
    private sealed class OpenFile(string table, string id, BlobRef blob, FileStream stream, DateTime writtenUtc) : IDisposable
    {
        public string Table { get; } = table;
        public string Id { get; } = id;
        public BlobRef Blob { get; } = blob;
        public FileStream Stream { get; } = stream;
        public DateTime WrittenUtc { get; } = writtenUtc;
        public IncrementalHash Hash { get; } = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        public long Read { get; set; }

        public void Dispose()
        {
            Stream.Dispose();
            Hash.Dispose();
        }
    }
}
