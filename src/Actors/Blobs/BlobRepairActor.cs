using Akka.Actor;
using Akka.Event;
using ClusterNode.Actors.Replication;
using ClusterNode.Actors.Telemetry;
using ClusterNode.Persistence.Blobs;
using ClusterNode.Persistence.Records;
using static ClusterNode.Actors.Blobs.BlobRepair;

namespace ClusterNode.Actors.Blobs;

/// <summary>
/// Fetches damaged blobs from the members, one member at a time and one piece at a time (repair is rare; it must not
/// crowd out replication). Runs on the I/O dispatcher: it writes and fsyncs the file it fetched.
/// </summary>
internal sealed class BlobRepairActor : ReceiveActor, IWithTimers
{
    private sealed record PieceTimedOut(string FileId, long RequestId);

    private sealed record RetryLost
    {
        public static readonly RetryLost Instance = new();
    }

    private sealed record RetryUnanswered(BlobDamage Damage);

    /// <summary>One blob being fetched: who is left to ask, who is being asked, and the bytes so far.</summary>
    private sealed class Job(BlobDamage damage, Queue<Address> toAsk, bool wasLost)
    {
        public BlobDamage Damage { get; } = damage;
        public Queue<Address> ToAsk { get; } = toAsk;
        public bool WasLost { get; } = wasLost;
        public int NotHeld { get; set; }
        public bool SomeoneSilent { get; set; }
        public Address? Asking { get; set; }
        public long RequestId { get; set; }
        public BlobWriter? Writer { get; set; }
        public long Offset { get; set; }
    }

    private readonly RecordStore _store;
    private readonly ReplicationSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly NodeMetrics _metrics = NodeTelemetry.Of(Context.System);
    private readonly Dictionary<string, Job> _jobs = new();
    private IReadOnlyList<Address> _members = [];
    private long _nextRequestId;
    private long _repaired;
    private long _unanswered;

    public BlobRepairActor(RecordStore store, ReplicationSettings settings)
    {
        _store = store;
        _settings = settings;
        Receive<Members>(members => _members = members.Addresses);
        Receive<Repair>(repair => Start(repair.Damage, retryOfLost: false));
        Receive<RetryUnanswered>(retry => Start(retry.Damage, retryOfLost: false, quietly: true));
        Receive<RetryLost>(_ =>
        {
            foreach (var lost in _store.LostBlobs())
                Start(new BlobDamage(lost.Table, lost.Id, new BlobRef(lost.Field, lost.FileId, lost.Size, Convert.FromHexString(lost.Sha256)), "lost: asked again"), retryOfLost: true);
        });
        Receive<BlobPiece>(OnPiece);
        Receive<BlobNotHeld>(notHeld =>
        {
            if (!_jobs.TryGetValue(notHeld.FileId, out var job) || job.RequestId != notHeld.RequestId) return;
            job.NotHeld++;
            AskNext(job);
        });
        Receive<PieceTimedOut>(timeout =>
        {
            if (!_jobs.TryGetValue(timeout.FileId, out var job) || job.RequestId != timeout.RequestId) return;
            job.SomeoneSilent = true;
            _unanswered++;
            AskNext(job);
        });
        Receive<GetStatus>(_ => Sender.Tell(new RepairStatus(_jobs.Count, _repaired, _store.LostBlobs().Count, _unanswered)));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer(RetryLost.Instance, RetryLost.Instance, _settings.LostRetryInterval);
        PublishLost();
    }

    /// <summary>The node's lost-blob gauge reads this; counted again only when a blob is marked lost or found.</summary>
    private void PublishLost() => _metrics.LostBlobs(_store.LostBlobs().Count);

    protected override void PostStop()
    {
        foreach (var job in _jobs.Values) job.Writer?.Dispose();
    }

    private void Start(BlobDamage damage, bool retryOfLost, bool quietly = false)
    {
        var blob = damage.Blob;
        if (_jobs.ContainsKey(blob.FileId) || !StillNamed(damage)) return;
        var lost = _store.LostBlob(blob.FileId) is not null;
        if (lost && !retryOfLost) return; // asked for again on the lost-retry timer only
        if (_store.Blobs.Verify(blob))
        {
            // Put back meanwhile (a re-streamed record, another repair): nothing to fetch.
            _store.Blobs.MarkVerified(blob);
            _store.ClearDamaged(blob.FileId);
            if (lost)
            {
                _store.ClearBlobLost(blob.FileId);
                PublishLost();
            }
            return;
        }
        if (!lost && !quietly) _log.Warning("blob {0} of {1}/{2} needs repair ({3}); asking {4} member(s)", blob.FileId, damage.Table, damage.Id, damage.Problem, _members.Count);
        var job = new Job(damage, new Queue<Address>(_members), lost);
        _jobs[blob.FileId] = job;
        AskNext(job);
    }

    /// <summary>The record still names the blob: otherwise a newer version replaced it and nothing is owed.</summary>
    private bool StillNamed(BlobDamage damage) =>
        _store.Get(damage.Table, damage.Id) is { Deleted: false } record && record.Blobs.Any(b => b.FileId == damage.Blob.FileId);

    private void AskNext(Job job)
    {
        job.Writer?.Dispose();
        job.Writer = null;
        job.Offset = 0;
        if (job.ToAsk.TryDequeue(out var member))
        {
            job.Asking = member;
            Request(job);
            return;
        }
        _jobs.Remove(job.Damage.Blob.FileId);
        var blob = job.Damage.Blob;
        if (!StillNamed(job.Damage)) _store.ClearDamaged(blob.FileId);
        if (job.SomeoneSilent || _members.Count == 0 || !StillNamed(job.Damage))
        {
            // Not every member answered: the bytes may still be out there. Ask again later.
            // With no member to ask (a node alone, or one whose peers are not connected yet) there is nothing to do soon.
            var retryIn = _members.Count == 0 ? _settings.LostRetryInterval : _settings.RepairTimeout;
            if (StillNamed(job.Damage) && !job.WasLost) Timers.StartSingleTimer(("retry", blob.FileId), new RetryUnanswered(job.Damage), retryIn);
            return;
        }
        if (job.WasLost) return;
        if (_store.Blobs.Verify(blob))
        {
            // Its bytes came meanwhile by a stream (the blob was only late): nothing is lost.
            _store.Blobs.MarkVerified(blob);
            _store.ClearDamaged(blob.FileId);
            return;
        }
        _store.MarkBlobLost(job.Damage.Table, job.Damage.Id, blob, $"none of the {job.NotHeld} member(s) asked holds it ({job.Damage.Problem})", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        PublishLost();
        _log.Error("blob {0} of {1}/{2} (field {3}, {4} bytes, sha256 {5}) is LOST: no member holds it; reads answer 410 Gone and no cursor waits for it",
            blob.FileId, job.Damage.Table, job.Damage.Id, blob.Field, blob.Size, blob.Sha256Hex);
    }

    private void Request(Job job)
    {
        job.RequestId = ++_nextRequestId;
        var blob = job.Damage.Blob;
        Context.ActorSelection(new RootActorPath(job.Asking!) / "user" / ReplicationHub.Name)
            .Tell(new FetchBlob(job.RequestId, job.Damage.Table, job.Damage.Id, blob.FileId, blob.Size, blob.Sha256, job.Offset), Self);
        Timers.StartSingleTimer(("piece", blob.FileId), new PieceTimedOut(blob.FileId, job.RequestId), _settings.RepairTimeout);
    }

    private void OnPiece(BlobPiece piece)
    {
        if (!_jobs.TryGetValue(piece.FileId, out var job) || job.RequestId != piece.RequestId) return;
        var blob = job.Damage.Blob;
        if (piece.Offset != job.Offset || job.Offset + piece.Bytes.Length > blob.Size || (piece.Bytes.Length == 0 && !piece.Last))
        {
            job.NotHeld++;
            AskNext(job);
            return;
        }
        try
        {
            job.Writer ??= _store.Blobs.BeginWrite();
            job.Writer.Append(piece.Bytes);
            job.Offset += piece.Bytes.Length;
            if (!piece.Last)
            {
                Request(job);
                return;
            }
            // Size and sha256 checked before the file may take the blob's name; then fsync, rename, directory fsync.
            job.Writer.Commit(blob.Field, blob.FileId, blob.Size, blob.Sha256);
            _store.Blobs.SyncDirectory();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            _log.Warning("blob {0} from {1} could not be put in place: {2}", blob.FileId, job.Asking, e.Message);
            job.NotHeld++;
            AskNext(job);
            return;
        }
        job.Writer.Dispose();
        Timers.Cancel(("piece", blob.FileId));
        _jobs.Remove(blob.FileId);
        _store.Blobs.MarkVerified(blob);
        _store.ClearDamaged(blob.FileId);
        if (job.WasLost)
        {
            _store.ClearBlobLost(blob.FileId);
            PublishLost();
        }
        _repaired++;
        _log.Info("blob {0} of {1}/{2} repaired from {3}{4}", blob.FileId, job.Damage.Table, job.Damage.Id, job.Asking, job.WasLost ? " (it was lost)" : "");
    }
}
