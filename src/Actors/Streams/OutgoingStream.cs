using ClusterNode.Actors.Replication;
using ClusterNode.Persistence.Binary;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Actors.Streams;

/// <summary>
/// The rules of one stream as its sender sees it, as a pure state machine over an <see cref="IReplicationSource"/>:
/// where the stream is (the next log sequence, or a copy's position), what may be sent within the window of bytes
/// in flight, and which frame comes next. The sender actor only reads blob chunks and tells messages.
///
/// <para>A frame's records go first, then the chunks of all their blobs in the records' order. An audit entry whose
/// version was since replaced here is skipped (the replacing entry comes later in the log), as is one that originated
/// at the follower itself; a frame's UpToSequence tells the follower it may count those as received. A forwarded
/// record whose blob has not arrived on this node goes with that blob marked unavailable: waiting for it would hold
/// up everything behind it for as long as its origin is away.</para>
/// </summary>
public sealed record OutgoingStream
{
    /// <summary>
    /// The blobs of a frame's records follow it before the next frame. Many records with blobs share a frame, so one
    /// LMDB commit at the follower covers them; the bound keeps open files and the follower's queue of due blobs small.
    /// </summary>
    public const int MaxBlobsPerFrame = 64;

    private const int AuditReadBatch = 512;

    /// <summary>
    /// Log entries one frame may pass over, sent or skipped: entries the follower does not receive cost nothing in the
    /// frame's bytes, so without this bound one frame could read the whole log.
    /// </summary>
    private const int MaxEntriesPerFrame = 16 * AuditReadBatch;
    private const int CopyReadBatch = 256;

    /// <summary>A limit the follower states below this is ignored: it would only make the stream crawl.</summary>
    private const int MinStatedLimitBytes = 1024;

    private OutgoingStream(Subscribe subscription, long windowBytes, StreamLimits limits, long nextSequence, OutgoingCopy? copy)
    {
        _subscription = subscription;
        Epoch = subscription.Epoch;
        FollowerNodeId = subscription.FollowerNodeId;
        WindowBytes = windowBytes;
        Limits = limits;
        NextSequence = nextSequence;
        Copy = copy;
    }

    private readonly Subscribe _subscription;

    public long Epoch { get; }
    public string FollowerNodeId { get; }
    public long WindowBytes { get; }
    public StreamLimits Limits { get; }

    /// <summary>The next log sequence to send (after a copy: its start + 1).</summary>
    public long NextSequence { get; private init; }

    /// <summary>The copy under way, or null while the log is streamed.</summary>
    public OutgoingCopy? Copy { get; private init; }

    public long SentBytes { get; private init; }
    public long CreditedBytes { get; private init; }
    public long MaxInFlightBytes { get; private init; }

    /// <summary>The follower's receipt: everything up to it is durable there.</summary>
    public long ReceiptSequence { get; private init; }

    public bool SentSinceHeartbeat { get; private init; }

    public long InFlightBytes => SentBytes - CreditedBytes;

    /// <summary>
    /// The stream a subscription asks for, with this node's limits and the follower's stated ones (the smaller wins,
    /// so a follower cannot make this node buffer more than it would), starting with a copy when the log no longer
    /// reaches back to what the follower needs.
    /// </summary>
    public static OutgoingStream Begin(Subscribe subscription, StreamLimits ours, long firstRetainedSequence, long lastSequence)
    {
        var limits = new StreamLimits(
            AtMost(ours.ChunkBytes, subscription.MaxChunkBytes),
            AtMost(ours.FrameTargetBytes, subscription.MaxFramePayloadBytes),
            AtMost(ours.MaxFramePayloadBytes, subscription.MaxFramePayloadBytes),
            ours.WindowBytes);
        var window = Math.Clamp(subscription.WindowBytes, 2L * limits.ChunkBytes, ours.WindowBytes);
        var copy = PlanCopy(subscription, firstRetainedSequence, lastSequence);
        var next = copy is null ? Math.Max(1, subscription.FromSequence) : copy.CopyStart + 1;
        return new OutgoingStream(subscription, window, limits, next, copy);

        static int AtMost(int ours, int followers) => followers >= MinStatedLimitBytes ? Math.Min(ours, followers) : ours;
    }

    /// <summary>
    /// The copy plan: copy when the log no longer reaches back to what the follower needs (its cursor, or the start of
    /// the copy it is resuming). A resumed copy keeps its start while the log still reaches back to it; otherwise a
    /// new copy begins at this node's last sequence, from the first record.
    /// </summary>
    public static OutgoingCopy? PlanCopy(Subscribe subscription, long firstRetainedSequence, long lastSequence)
    {
        if (subscription.CopyStart > 0 && subscription.CopyStart + 1 >= firstRetainedSequence)
            return new OutgoingCopy(subscription.CopyStart, subscription.CopyAfterKey ?? [], subscription.CopyAfterKey ?? [], 0);
        if (subscription.CopyStart > 0 || subscription.FromSequence < firstRetainedSequence)
            return new OutgoingCopy(lastSequence, [], [], 0);
        return null;
    }

    /// <summary>A write of the follower's own that it still has: not sent back (see <see cref="Subscribe.MayHaveLost"/>).</summary>
    private bool FollowersOwn(RecordVersion version) => version.Origin == FollowerNodeId && !_subscription.MayHaveLost(version);

    /// <summary>Room for <paramref name="costBytes"/> more in flight; an oversized item goes alone into an empty window.</summary>
    public bool HasRoomFor(long costBytes) => InFlightBytes == 0 || InFlightBytes + costBytes <= WindowBytes;

    /// <summary>Credit of this epoch; never more than was sent, never backwards (a duplicate or late one changes nothing).</summary>
    public OutgoingStream Credited(Credit credit) =>
        credit.Epoch != Epoch ? this : this with { CreditedBytes = Math.Max(CreditedBytes, Math.Min(credit.HandledBytes, SentBytes)) };

    public OutgoingStream Receipted(Receipt receipt) =>
        receipt.Epoch != Epoch ? this : this with { ReceiptSequence = Math.Max(ReceiptSequence, Math.Min(receipt.DurableSequence, NextSequence - 1)) };

    public OutgoingStream Sent(long costBytes) => this with
    {
        SentBytes = SentBytes + costBytes,
        MaxInFlightBytes = Math.Max(MaxInFlightBytes, SentBytes + costBytes - CreditedBytes),
        SentSinceHeartbeat = true,
    };

    /// <summary>
    /// The heartbeat that tells an idle follower how far the log goes (silence would look like a dead peer), and lets it
    /// notice a lost frame: null when something was sent since the last one, or blobs are still going out. It costs
    /// nothing in the window (see <see cref="FlowControl.Cost"/>).
    /// </summary>
    public (OutgoingStream Next, object? Heartbeat) OnHeartbeatTick(bool blobsPending)
    {
        var quiet = this with { SentSinceHeartbeat = false };
        if (SentSinceHeartbeat || blobsPending) return (quiet, null);
        object heartbeat = Copy is null
            ? new RecordFrame(Epoch, NextSequence - 1, NextSequence - 1, 0, [])
            : new CopyFrame(Epoch, Copy.CopyStart, Copy.StartAfterKey, Copy.Position, 0, [], false);
        return (quiet, heartbeat);
    }

    /// <summary>The next frame of the log or the copy, with its blobs opened; nothing when there is no room or nothing to send.</summary>
    public NextFrame BuildNext(IReplicationSource source) =>
        !HasRoomFor(Limits.FrameTargetBytes) ? NextFrame.Nothing
        : Copy is null ? BuildRecordFrame(source)
        : BuildCopyFrame(source, Copy);

    private NextFrame BuildRecordFrame(IReplicationSource source)
    {
        var builder = new FrameBuilder(Limits.FrameTargetBytes);
        var upTo = NextSequence - 1;
        var scanned = 0;
        // The frame fills up to its byte target, reading the log a batch at a time: a frame of small records holds
        // thousands, so the follower commits them in one transaction and tells its watermark once.
        while (scanned < MaxEntriesPerFrame)
        {
            var entries = source.ReadLogForSending(upTo + 1, AuditReadBatch);
            if (entries.Count == 0) break;
            if (entries[0].Entry.Sequence != upTo + 1)
            {
                // The log was trimmed past what this follower still needs (retention is shorter than its lag). A frame
                // now would skip those entries unseen; instead the stream ends and the follower's new subscription,
                // from its durable watermark, finds its cursor behind the retention and copies. Trimmed while this
                // frame was being read: the frame ends here, and the next one finds the gap.
                if (upTo < NextSequence) return new LogTrimmed(NextSequence, entries[0].Entry.Sequence);
                break;
            }
            scanned += entries.Count;
            if (!AddEntries(source, builder, entries, ref upTo)) break;
            if (entries.Count < AuditReadBatch) break;
        }
        if (upTo < NextSequence) return NextFrame.Nothing; // nothing consumed
        var frame = new RecordFrame(Epoch, NextSequence - 1, upTo, builder.Count, builder.Payload());
        return Finish(builder, frame, frame.CostBytes, frame.Payload.Length, this with { NextSequence = upTo + 1 });
    }

    /// <summary>Adds the entries' records to the frame in log order; false once the frame is full.</summary>
    private bool AddEntries(IReplicationSource source, FrameBuilder builder, IReadOnlyList<LoggedRecord> entries, ref long upTo)
    {
        foreach (var (entry, current, plainBody) in entries)
        {
            if (plainBody is not null)
            {
                // At the entry's version and without blobs: its stored bytes go into the frame as they are.
                if (!FollowersOwn(entry.Version) && builder.TryAddPlain(entry.Sequence, entry.Table, entry.Id, plainBody) == FrameBuilder.Outcome.Full) return false;
                upTo = entry.Sequence;
                continue;
            }
            var record = FollowersOwn(entry.Version) ? null : current;
            // Written by the follower (it has it), or replaced since (the later entry carries the newer version).
            if (record is null || record.Version != entry.Version)
            {
                upTo = entry.Sequence;
                continue;
            }
            if (builder.TryAdd(source, entry.Sequence, record) == FrameBuilder.Outcome.Full) return false;
            upTo = entry.Sequence; // added, or replaced while its blobs were opened: superseded either way
            if (builder.BlobCount >= MaxBlobsPerFrame) return false;
        }
        return true;
    }

    private NextFrame BuildCopyFrame(IReplicationSource source, OutgoingCopy copy)
    {
        var records = source.Scan(copy.AfterKey.Length == 0 ? null : copy.AfterKey, CopyReadBatch);
        var builder = new FrameBuilder(Limits.FrameTargetBytes);
        var afterKey = copy.AfterKey;
        var position = copy.Position;
        var consumedAll = true;
        foreach (var record in records)
        {
            var key = RecordCodec.Key(record.Table, record.Id);
            if (FollowersOwn(record.Version))
            {
                afterKey = key; // the follower wrote it: it has it or something newer
                continue;
            }
            var added = builder.TryAdd(source, position + 1, record);
            if (added != FrameBuilder.Outcome.Added)
            {
                consumedAll = false; // full, or replaced meanwhile: read it again for the next frame
                break;
            }
            position++;
            afterKey = key;
            if (builder.BlobCount >= MaxBlobsPerFrame)
            {
                consumedAll = false;
                break;
            }
        }
        var done = consumedAll && records.Count < CopyReadBatch;
        if (builder.Count == 0 && !done && afterKey == copy.AfterKey) return NextFrame.Nothing;
        var frame = new CopyFrame(Epoch, copy.CopyStart, copy.StartAfterKey, copy.Position, builder.Count, builder.Payload(), done);
        var next = done ? this with { Copy = null } : this with { Copy = copy with { AfterKey = afterKey, Position = position } };
        return Finish(builder, frame, frame.CostBytes, frame.Payload.Length, next);
    }

    private NextFrame Finish(FrameBuilder builder, object frame, long costBytes, int payloadBytes, OutgoingStream next)
    {
        // Cannot happen while record.max-size fits the frame limit (checked at start-up); never send it.
        if (payloadBytes > Limits.MaxFramePayloadBytes)
        {
            builder.DisposeBlobs();
            return new FrameTooLarge(payloadBytes);
        }
        if (!HasRoomFor(costBytes))
        {
            builder.DisposeBlobs();
            return NextFrame.Nothing; // built again when credit makes room
        }
        return new FrameReady(next.Sent(costBytes), frame, builder.Blobs);
    }

    /// <summary>Accumulates records into one frame's payload and opens their blobs.</summary>
    private sealed class FrameBuilder(int targetBytes)
    {
        public enum Outcome { Added, Full, Replaced }

        /// <summary>
        /// One writer per thread, kept: a frame's buffer (a large object at the default frame size, doubled once by the
        /// record that overflows it) would otherwise be allocated for every frame. It holds at most twice the largest
        /// frame. Safe because a frame is built and copied out (<see cref="Payload"/>) within one call, on one thread.
        /// </summary>
        [ThreadStatic] private static ByteWriter? t_payload;

        private readonly ByteWriter _payload = (t_payload ??= new ByteWriter(targetBytes)).Clear();
        private readonly List<OutgoingBlob> _blobs = new();

        public int Count { get; private set; }
        public int BlobCount => _blobs.Count;
        public IReadOnlyList<OutgoingBlob> Blobs => _blobs;

        public Outcome TryAdd(IReplicationSource source, long position, StoredRecord record)
        {
            var prepared = PrepareBlobs(source, position, record);
            if (prepared is null) return Outcome.Replaced;
            var (opened, unavailable) = prepared.Value;
            var before = _payload.Length;
            RecordFrameCodec.Append(_payload, position, record, unavailable);
            if (Count > 0 && _payload.Length > targetBytes)
            {
                // Full: this record opens the next frame.
                foreach (var blob in opened) blob.Dispose();
                _payload.Truncate(before);
                return Outcome.Full;
            }
            Count++;
            _blobs.AddRange(opened);
            return Outcome.Added;
        }

        /// <summary>A record without blobs whose body is encoded already: the same bytes <see cref="TryAdd"/> writes for it.</summary>
        public Outcome TryAddPlain(long position, string table, string id, byte[] body)
        {
            var before = _payload.Length;
            _payload.I64(position).String(table).String(id).Raw(body).U16(0); // no blob, none unavailable
            if (Count > 0 && _payload.Length > targetBytes)
            {
                _payload.Truncate(before);
                return Outcome.Full;
            }
            Count++;
            return Outcome.Added;
        }

        public byte[] Payload() => _payload.ToArray();

        public void DisposeBlobs()
        {
            foreach (var blob in _blobs) blob.Dispose();
        }

        /// <summary>
        /// Opens every blob of the record now, so a later replacement that deletes a file cannot cut a stream short.
        /// A blob whose bytes are not here is sent as unavailable. Null when the record was replaced meanwhile (a
        /// replacement commits, then deletes the files it no longer names).
        /// </summary>
        private static (List<OutgoingBlob> Opened, List<string> Unavailable)? PrepareBlobs(IReplicationSource source, long position, StoredRecord record)
        {
            var opened = new List<OutgoingBlob>(record.Blobs.Count);
            var unavailable = new List<string>();
            foreach (var blob in record.Blobs)
            {
                if (source.TryOpenBlob(blob) is { } stream) opened.Add(new OutgoingBlob(position, record, blob, stream));
                else unavailable.Add(blob.FileId);
            }
            if (unavailable.Count == 0) return (opened, unavailable);
            var now = source.Get(record.Table, record.Id);
            if (now is not null && now.Version == record.Version) return (opened, unavailable);
            foreach (var blob in opened) blob.Dispose();
            return null;
        }
    }
}

/// <summary>What this node sends at most, and what the follower stated in its subscription.</summary>
public sealed record StreamLimits(int ChunkBytes, int FrameTargetBytes, int MaxFramePayloadBytes, long WindowBytes)
{
    public static StreamLimits Of(ReplicationSettings settings) =>
        new(settings.ChunkSizeBytes, settings.FrameTargetBytes, settings.MaxFramePayloadBytes, settings.WindowBytes);
}

/// <summary>
/// A copy being sent: the records in key order after <see cref="AfterKey"/>, each at its copy position (the last sent
/// is <see cref="Position"/>); the log follows from <see cref="CopyStart"/> + 1.
/// </summary>
public sealed record OutgoingCopy(long CopyStart, byte[] StartAfterKey, byte[] AfterKey, long Position);

/// <summary>A blob to send as chunks after its frame, open from the moment its record was read.</summary>
public sealed class OutgoingBlob(long position, StoredRecord record, BlobRef blob, Stream content) : IDisposable
{
    // The bytes are hashed as they go: a file that rotted here is noticed by the stream that sends it (the follower
    // refuses it too), so this node's repair can start at once rather than at the next scrub.
    private readonly System.Security.Cryptography.IncrementalHash _hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);

    public long Position { get; } = position;
    public StoredRecord Record { get; } = record;
    public BlobRef Blob { get; } = blob;
    public string FileId => Blob.FileId;
    public long Size => Blob.Size;
    public long Offset { get; private set; }
    public bool Done => Offset == Size;

    /// <summary>Once <see cref="Done"/>: the bytes sent hash to what the record says.</summary>
    public bool SentRightBytes { get; private set; }

    /// <summary>The next chunk, of at most <paramref name="chunkBytes"/>.</summary>
    public BlobChunk ReadChunk(long epoch, int chunkBytes)
    {
        var bytes = new byte[(int)Math.Min(chunkBytes, Size - Offset)];
        content.ReadExactly(bytes);
        _hash.AppendData(bytes);
        var chunk = new BlobChunk(epoch, Position, FileId, Offset, bytes);
        Offset += bytes.Length;
        if (Done) SentRightBytes = _hash.GetHashAndReset().AsSpan().SequenceEqual(Blob.Sha256);
        return chunk;
    }

    /// <summary>What the next chunk will cost in the window.</summary>
    public long NextChunkCost(int chunkBytes) => Math.Min(chunkBytes, Size - Offset) + FlowControl.HeaderAllowanceBytes;

    public void Dispose()
    {
        content.Dispose();
        _hash.Dispose();
    }
}

public abstract record NextFrame
{
    public static readonly NextFrame Nothing = new NothingToSend();
}

public sealed record NothingToSend : NextFrame;

/// <summary>Send <paramref name="Frame"/>, then the chunks of <paramref name="Blobs"/>; the stream is then <paramref name="Next"/>.</summary>
public sealed record FrameReady(OutgoingStream Next, object Frame, IReadOnlyList<OutgoingBlob> Blobs) : NextFrame;

/// <summary>The log no longer holds <paramref name="NeededSequence"/>: the stream ends, and the follower's next subscription copies.</summary>
public sealed record LogTrimmed(long NeededSequence, long OldestKept) : NextFrame;

public sealed record FrameTooLarge(int PayloadBytes) : NextFrame;
