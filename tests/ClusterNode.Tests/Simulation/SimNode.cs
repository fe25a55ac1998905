using Akka.Actor;
using ClusterNode.Actors.Replication;
using ClusterNode.Actors.Streams;
using ClusterNode.Actors.Watermarks;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Tests.Simulation;

/// <summary>
/// One simulated node: the same pure cores the actors drive (<see cref="IncomingStream"/>, <see cref="OutgoingStream"/>,
/// <see cref="PeerCursor"/>), glued the way <c>ReceiverActor</c>, <c>AuditLogSenderActor</c>, <c>BlobSaverActor</c> and
/// <c>WatermarkActor</c> glue them, over a <see cref="SimStore"/> and the simulation's network and timers. What lives
/// in memory here (legs, senders, half-saved blobs, a cursor write in flight) is lost by <see cref="Crash"/>; the
/// store's durable part and the persisted cursors are not.
/// </summary>
internal sealed class SimNode
{
    private readonly Simulation _sim;
    private readonly Dictionary<string, Leg> _legs = new();
    private readonly Dictionary<string, OutgoingLeg> _senders = new();

    public SimNode(Simulation sim, string id)
    {
        _sim = sim;
        Id = id;
        Store = new SimStore(id, sim.Settings.AuditRetention, () => WallClockMs);
    }

    public string Id { get; }
    public SimStore Store { get; }
    public bool Up { get; private set; } = true;

    /// <summary>Bumped by every crash: timers and completions of an earlier incarnation find it changed and do nothing.</summary>
    public int Incarnation { get; private set; }

    /// <summary>The wall clock may be stepped back; the hybrid logical clock must not follow it.</summary>
    public long WallClockOffsetMs { get; set; }
    public long WallClockMs => Simulation.EpochMs + _sim.NowMs + WallClockOffsetMs;

    /// <summary>What the cursor store has on its journal for each peer: survives crashes.</summary>
    public Dictionary<string, Persisted> Journal { get; } = new();

    public sealed record Persisted(long Sequence, long CopyStart, byte[]? CopyAfterKey);

    /// <summary>Where each leg and sender stands: printed when a run does not converge.</summary>
    public string Describe() =>
        string.Join('\n', _legs.Select(l => $"{Id} from {l.Key}: {l.Value.Describe()}")
            .Concat(_senders.Select(s => $"{Id} to {s.Key}: {s.Value.Describe()}")));

    public void Crash()
    {
        Up = false;
        Incarnation++;
        _legs.Clear();
        _senders.Clear();
    }

    public void Restart(IEnumerable<string> peers)
    {
        Up = true;
        Store.Restart();
        foreach (var peer in peers) Connect(peer);
    }

    public void Connect(string peer)
    {
        if (_legs.ContainsKey(peer)) return;
        var journal = Journal.GetValueOrDefault(peer) ?? new Persisted(0, 0, null);
        var leg = new Leg(this, peer, new PeerCursor(journal.Sequence, journal.CopyStart, journal.CopyAfterKey));
        _legs[peer] = leg;
        leg.BeginSubscribing();
        Every(_sim.Settings.IdleCheckMs, () => _legs.GetValueOrDefault(peer) == leg, leg.CheckIdle);
        Every(_sim.Settings.PeerCheckMs, () => _legs.GetValueOrDefault(peer) == leg, () =>
        {
            if (_sim.Reachable(Id, peer)) leg.PeerSeen();
        });
    }

    // ---------------------------------------------------------------- local writes

    public void Write(Random random)
    {
        var table = "t";
        var id = "k" + random.Next(_sim.Settings.Keys);
        var roll = random.Next(10);
        StoredRecord? written;
        if (roll < 4)
        {
            var blob = _sim.NewBlob(random);
            Store.PlaceDurable(blob.Ref.FileId, blob.Bytes);
            written = Store.WriteLocal(table, id, (existing, version) =>
            {
                var live = existing is { Deleted: false } ? existing : null;
                var blobs = (live?.Blobs ?? []).Where(b => b.Field != blob.Ref.Field).Append(blob.Ref).OrderBy(b => b.Field, StringComparer.Ordinal).ToArray();
                return new StoredRecord(table, id, version, false, live?.Data ?? "{}"u8.ToArray(), blobs);
            });
        }
        else if (roll < 8)
        {
            var data = System.Text.Encoding.UTF8.GetBytes($"{{\"n\":{random.Next()}}}");
            written = Store.WriteLocal(table, id, (existing, version) =>
                new StoredRecord(table, id, version, false, data, existing is { Deleted: false } ? existing.Blobs : []));
        }
        else
        {
            written = Store.WriteLocal(table, id, (existing, version) =>
                existing is { Deleted: false } ? new StoredRecord(table, id, version, true, [], []) : null);
        }
        _sim.Trace($"{Id} writes {table}/{id}: {(written is null ? "refused" : written.Version.ToString())}");
        if (written is not null) AuditAppended();
    }

    private void AuditAppended()
    {
        foreach (var sender in _senders.Values.ToList()) sender.Pump();
    }

    // ---------------------------------------------------------------- the network

    public void Receive(string from, object message)
    {
        if (!Up) return;
        switch (message)
        {
            case Subscribe subscribe:
                OnSubscribe(from, subscribe);
                break;
            case Credit or Receipt:
                if (_senders.TryGetValue(from, out var sender)) sender.Receive(message);
                break;
            default:
                if (_legs.TryGetValue(from, out var leg)) leg.Receive(message);
                break;
        }
    }

    /// <summary>As the hub: the newest subscription of a follower replaces its previous one.</summary>
    private void OnSubscribe(string from, Subscribe subscribe)
    {
        if (subscribe.FollowerNodeId != from || subscribe.FromSequence < 1 || subscribe.WindowBytes <= 0) return;
        var stream = OutgoingStream.Begin(subscribe, _sim.Settings.Limits, Store.FirstRetainedSequence, Store.LastSequence);
        var sender = new OutgoingLeg(this, from, stream);
        _senders[from] = sender;
        Every(_sim.Settings.HeartbeatMs, () => _senders.GetValueOrDefault(from) == sender, sender.Heartbeat);
        sender.Pump();
    }

    private void Send(string to, object message) => _sim.Send(Id, to, message);

    private void After(long delayMs, Action action)
    {
        var incarnation = Incarnation;
        _sim.Schedule(delayMs, () =>
        {
            if (Up && Incarnation == incarnation) action();
        });
    }

    private void Every(long intervalMs, Func<bool> alive, Action action)
    {
        After(intervalMs, () =>
        {
            if (!alive()) return;
            action();
            Every(intervalMs, alive, action);
        });
    }

    // ---------------------------------------------------------------- the sender of one follower's stream

    private sealed class OutgoingLeg(SimNode node, string follower, OutgoingStream stream)
    {
        private readonly Queue<OutgoingBlob> _blobs = new();
        private OutgoingStream _stream = stream;

        public void Receive(object message)
        {
            switch (message)
            {
                case Credit credit:
                    _stream = _stream.Credited(credit);
                    Pump();
                    break;
                case Receipt receipt:
                    _stream = _stream.Receipted(receipt);
                    break;
            }
        }

        public string Describe() =>
            $"epoch {_stream.Epoch}, next {_stream.NextSequence}{(_stream.Copy is { } c ? $", copying from {c.CopyStart} at {c.Position}" : "")}, " +
            $"in flight {_stream.InFlightBytes} of {_stream.WindowBytes}, {_blobs.Count} blobs queued";

        public void Heartbeat()
        {
            Pump();
            (_stream, var heartbeat) = _stream.OnHeartbeatTick(_blobs.Count > 0);
            if (heartbeat is null) return;
            _stream = _stream.Sent(heartbeat is RecordFrame r ? r.CostBytes : ((CopyFrame)heartbeat).CostBytes);
            node.Send(follower, heartbeat);
        }

        public void Pump()
        {
            if (node._senders.GetValueOrDefault(follower) != this) return;
            while (true)
            {
                if (_blobs.TryPeek(out var blob))
                {
                    if (!_stream.HasRoomFor(blob.NextChunkCost(_stream.Limits.ChunkBytes))) return;
                    var chunk = blob.ReadChunk(_stream.Epoch, _stream.Limits.ChunkBytes);
                    if (blob.Done) _blobs.Dequeue().Dispose();
                    _stream = _stream.Sent(chunk.CostBytes);
                    node.Send(follower, chunk);
                    continue;
                }
                switch (_stream.BuildNext(node.Store))
                {
                    case FrameReady ready:
                        _stream = ready.Next;
                        node.Send(follower, ready.Frame);
                        foreach (var opened in ready.Blobs) _blobs.Enqueue(opened);
                        continue;
                    case LogTrimmed or FrameTooLarge:
                        node._sim.Trace($"{node.Id} ends its stream to {follower}: {_stream.NextSequence} no longer in the log");
                        node._senders.Remove(follower);
                        return;
                    default:
                        return;
                }
            }
        }
    }

    // ---------------------------------------------------------------- the receiver, saver and watermark of one peer

    private sealed class Leg(SimNode node, string peer, PeerCursor cursor)
    {
        private enum Mode { Subscribing, Receiving, BackingOff }

        private IncomingStream _stream = IncomingStream.Begin(0, 0);
        private Mode _mode;
        private long _lastHeardMs;
        private long _receipt = -1;
        private bool _receiptScheduled;
        private bool _persistInFlight;
        private bool _cursorStoreUp = true;
        private readonly List<AwaitedBlob> _awaited = new();
        private bool _pollScheduled;
        private readonly Saver _saver = new();
        private readonly List<(object Frame, long CostBytes)> _queued = new();

        /// <summary>Messages take 1 to 10 ms: frames that arrive within this of the first share its transaction.</summary>
        private const long ApplyDelayMs = 2;

        private Simulation Sim => node._sim;

        public string Describe() =>
            $"{_mode}, epoch {_stream.Epoch}, committed {_stream.Committed}{(_stream.Copy is { } c ? $", copying from {c.CopyStart} at {c.Position}" : "")}, " +
            $"{_stream.DueBlobs.Count()} blobs due, unhandled {_stream.UnhandledBytes}, heard {Sim.NowMs - _lastHeardMs} ms ago; " +
            $"cursor committed {cursor.Committed}, durable {cursor.Durable}, persisted {cursor.PersistedCursor}, {cursor.OutstandingBlobs} blobs outstanding, {_awaited.Count} awaited";
        private bool Current => node._legs.GetValueOrDefault(peer) == this;

        public void BeginSubscribing()
        {
            var epoch = Math.Max(_stream.Epoch + 1, node.WallClockMs * 10_000);
            _stream = IncomingStream.Begin(epoch, 0);
            _saver.Reset(epoch);
            _queued.Clear();
            _mode = Mode.Subscribing;
            _lastHeardMs = Sim.NowMs;
            var resume = cursor.BeginEpoch(epoch)!;
            _stream = IncomingStream.Begin(epoch, resume.Sequence);
            node.Send(peer, new Subscribe(node.Id, epoch, resume.Sequence + 1, Sim.Settings.Limits.WindowBytes, ActorRefs.Nobody,
                resume.CopyStart, resume.CopyAfterKey, Sim.Settings.Limits.ChunkBytes, Sim.Settings.Limits.MaxFramePayloadBytes));
            _mode = Mode.Receiving;
            if (resume.CopyStart > 0) Sim.Count("copy resumed");
            Sim.Trace($"{node.Id} subscribes to {peer} from {resume.Sequence + 1}{(resume.CopyStart > 0 ? $" (copy from {resume.CopyStart})" : "")}, epoch {epoch}");
        }

        public void Receive(object message)
        {
            if (_mode != Mode.Receiving) return;
            switch (message)
            {
                case RecordFrame frame when frame.Epoch == _stream.Epoch:
                    Heard(frame.CostBytes);
                    Queue(frame, frame.CostBytes);
                    break;
                case CopyFrame frame when frame.Epoch == _stream.Epoch:
                    Heard(frame.CostBytes);
                    Queue(frame, frame.CostBytes);
                    break;
                case BlobChunk chunk when chunk.Epoch == _stream.Epoch:
                    Heard(chunk.CostBytes);
                    // A chunk follows its frame: the frames before it are applied first.
                    if (ApplyQueued()) OnChunk(chunk);
                    break;
            }
        }

        private void Heard(long costBytes)
        {
            _lastHeardMs = Sim.NowMs;
            _stream = _stream.Heard(costBytes);
        }

        /// <summary>
        /// As the receiver's mailbox: frames wait until the apply comes round (<see cref="ApplyDelayMs"/> here, so frames that
        /// arrive meanwhile share its transaction, as they do under load), then go in one transaction.
        /// </summary>
        private void Queue(object frame, long costBytes)
        {
            _queued.Add((frame, costBytes));
            if (_queued.Count > 1) return;
            var epoch = _stream.Epoch;
            // A fixed delay, not a random one: the seeds' draws stay what they were.
            node.After(ApplyDelayMs, () =>
            {
                if (Current && _mode == Mode.Receiving && _stream.Epoch == epoch) ApplyQueued();
            });
        }

        /// <summary>The queued frames that continue the stream, in one transaction; false when the stream was given up.</summary>
        private bool ApplyQueued()
        {
            if (_queued.Count == 0) return true;
            var frames = _queued.Select(q => q.Frame).ToArray();
            var costs = _queued.Select(q => q.CostBytes).ToArray();
            _queued.Clear();
            var (accepted, refused) = _stream.CheckGroup(frames, Sim.Settings.Limits.MaxFramePayloadBytes);
            if (accepted.Count > 0)
            {
                if (accepted.Count > 1) Sim.Count("frames applied in one transaction with others");
                var blobsToSave = node.Store.ApplyReplicated(accepted.SelectMany(f => f.Records.Select(r => r.Record)).ToArray());
                var first = 0;
                for (var f = 0; f < accepted.Count; f++)
                {
                    var frame = accepted[f];
                    var applied = _stream.Applied(frame, blobsToSave.Skip(first).Take(frame.Records.Count).ToArray(), costs[f]);
                    first += frame.Records.Count;
                    _stream = applied.Next;
                    foreach (var command in applied.ToWatermark) ToWatermark(command);
                    foreach (var awaited in applied.Awaited) AwaitElsewhere(awaited);
                }
                node.Send(peer, new Credit(_stream.Epoch, _stream.HandledBytes));
                if (first > 0) node.AuditAppended();
            }
            if (refused is null) return true;
            GiveUp(refused.Reason, immediately: refused.LostInTransit);
            return false;
        }

        private void OnChunk(BlobChunk chunk)
        {
            switch (_stream.Check(chunk, Sim.Settings.Limits.ChunkBytes))
            {
                case ChunkRefused refused:
                    GiveUp(refused.Reason, immediately: refused.LostInTransit);
                    return;
                case ChunkAccepted accepted:
                    _stream = accepted.Next;
                    if (accepted.Save) Save(chunk, accepted.Blob);
                    else Handled(chunk.CostBytes);
                    return;
            }
        }

        private void Handled(long costBytes)
        {
            _stream = _stream.Handled(costBytes);
            node.Send(peer, new Credit(_stream.Epoch, _stream.HandledBytes));
        }

        public void CheckIdle()
        {
            if (_mode == Mode.Receiving && _stream.UnhandledBytes == 0 && Sim.NowMs - _lastHeardMs > Sim.Settings.IdleTimeoutMs)
                GiveUp("nothing heard", immediately: true);
        }

        public void PeerSeen()
        {
            if (_mode == Mode.Receiving && _stream.UnhandledBytes == 0 && Sim.NowMs - _lastHeardMs > Sim.Settings.QuietStreamMs)
                GiveUp("the peer answers but its stream is quiet", immediately: true);
        }

        private void GiveUp(string reason, bool immediately)
        {
            if (_mode == Mode.BackingOff) return;
            _queued.Clear(); // nothing of them was applied: the next subscription brings them again
            Sim.Trace($"{node.Id} gives up its stream from {peer}: {reason}");
            Sim.Count(immediately ? "stream restarted at once (gap or silence)" : "stream restarted after a back-off (failure or bad input)");
            _mode = Mode.BackingOff;
            node.After(immediately ? 0 : Sim.Settings.BackoffMs, () =>
            {
                if (Current && _mode == Mode.BackingOff) BeginSubscribing();
            });
        }

        // ------------------------------------------------ the watermark and its cursor store

        private void ToWatermark(Watermark.ICommand command)
        {
            if (!cursor.Handle(command)) return;
            if (command is Watermark.BlobFailed) return;
            if (command is Watermark.CopyBegan) Sim.Count("copy begun");
            if (cursor.SettleCopy()) Sim.Count("copy completed");
            if (cursor.TakeAdvanced() is { } advanced && advanced.Epoch == _stream.Epoch)
            {
                _receipt = Math.Min(advanced.Committed, advanced.Durable);
                if (!_receiptScheduled)
                {
                    _receiptScheduled = true;
                    node.After(Sim.Settings.ReceiptIntervalMs, () =>
                    {
                        _receiptScheduled = false;
                        if (!Current) return;
                        Sim.CheckReceipt(node, peer, _receipt);
                        node.Send(peer, new Receipt(_stream.Epoch, _receipt));
                    });
                }
            }
            Persist();
        }

        /// <summary>
        /// A cursor write takes a while; a crash before it lands loses it, as a journal write in flight is lost. A failed
        /// write stops the cursor store (as Akka.Persistence does); the watermark starts another after a pause, which
        /// recovers what the journal holds.
        /// </summary>
        private void Persist()
        {
            if (_persistInFlight || !_cursorStoreUp || cursor.TakePersist() is not { } write) return;
            _persistInFlight = true;
            node.After(Sim.Random.Next(1, Sim.Settings.MaxPersistMs), () =>
            {
                _persistInFlight = false;
                if (Sim.Random.NextDouble() < Sim.Settings.JournalFailure)
                {
                    Sim.Count("journal write failed");
                    _cursorStoreUp = false;
                    cursor.StoreLost();
                    node.After(Sim.Settings.BackoffMs, () =>
                    {
                        var journal = node.Journal.GetValueOrDefault(peer) ?? new Persisted(0, 0, null);
                        _cursorStoreUp = true;
                        cursor.StoreRecovered(journal.Sequence, journal.CopyStart, journal.CopyAfterKey);
                        if (Current) Persist();
                    });
                    return;
                }
                var before = node.Journal.GetValueOrDefault(peer) ?? new Persisted(0, 0, null);
                switch (write)
                {
                    case CursorStore.Advance advance:
                        var sequence = Math.Max(before.Sequence, advance.Sequence);
                        node.Journal[peer] = new Persisted(sequence, 0, null);
                        Sim.CheckCursor(node, peer, before.Sequence, sequence);
                        cursor.Persisted(sequence);
                        break;
                    case CursorStore.AdvanceCopy copy:
                        Sim.Count("copy progress persisted");
                        node.Journal[peer] = new Persisted(before.Sequence, copy.CopyStart, copy.AfterKey);
                        cursor.CopyPersisted(copy.AfterKey);
                        break;
                }
                if (Current) Persist();
            });
        }

        // ------------------------------------------------ blobs that come by another stream

        private void AwaitElsewhere(AwaitedBlob awaited)
        {
            _awaited.Add(awaited);
            Sim.Count("blob awaited from another stream");
            if (_pollScheduled) return;
            _pollScheduled = true;
            node.After(Sim.Settings.AwaitedPollMs, PollAwaited);
        }

        private void PollAwaited()
        {
            _pollScheduled = false;
            if (!Current) return;
            _awaited.RemoveAll(a => a.Epoch != _stream.Epoch);
            foreach (var awaited in _awaited.ToList())
            {
                var moot = node.Store.Get(awaited.Table, awaited.Id)?.Blobs.Any(b => b.FileId == awaited.Blob.FileId) != true;
                if (!moot && !node.Store.HoldsBlob(awaited.Blob)) continue;
                _awaited.Remove(awaited);
                ToWatermark(new Watermark.BlobDurable(awaited.Epoch, awaited.Position, awaited.Blob.FileId, awaited.InCopy));
            }
            if (_awaited.Count > 0)
            {
                _pollScheduled = true;
                node.After(Sim.Settings.AwaitedPollMs, PollAwaited);
            }
        }

        // ------------------------------------------------ the saver: chunks written now, made durable in batches later

        private void Save(BlobChunk chunk, DueBlob due)
        {
            var problem = _saver.Write(chunk, due, Sim.Random, Sim.Settings);
            if (problem is not null) Failed(chunk.Epoch, due, problem);
            // The write takes a while (a slow disk); its credit comes back after it.
            var epoch = chunk.Epoch;
            node.After(Sim.Random.Next(0, Sim.Settings.MaxChunkWriteMs), () =>
            {
                if (Current && epoch == _stream.Epoch) Handled(chunk.CostBytes);
            });
            if (problem is null && chunk.Offset + chunk.Bytes.Length == due.Blob.Size) ScheduleFlush();
        }

        private void ScheduleFlush()
        {
            if (_saver.FlushScheduled) return;
            _saver.FlushScheduled = true;
            node.After(Sim.Random.Next(1, Sim.Settings.MaxFlushMs), () =>
            {
                if (!Current) return;
                var (durable, failed) = _saver.Flush(node.Store, Sim.Random, Sim.Settings);
                foreach (var (epoch, due) in durable) ToWatermark(new Watermark.BlobDurable(epoch, due.Position, due.Blob.FileId, due.InCopy));
                foreach (var (epoch, due) in failed) Failed(epoch, due, "the batch's fsync failed");
            });
        }

        private void Failed(long epoch, DueBlob due, string problem)
        {
            Sim.Count("blob save failed");
            ToWatermark(new Watermark.BlobFailed(epoch, due.Position, due.Blob.FileId, problem, due.InCopy));
            if (epoch == _stream.Epoch) GiveUp($"blob {due.Blob.FileId} failed: {problem}", immediately: false);
        }
    }

    /// <summary>The blob saver: one blob written at a time in stream order, sealed blobs made durable together.</summary>
    private sealed class Saver
    {
        private long _epoch;
        private (DueBlob Blob, MemoryStream Bytes, bool Failed)? _current;
        private readonly List<(long Epoch, DueBlob Blob, byte[] Bytes)> _sealed = new();

        public bool FlushScheduled { get; set; }

        public void Reset(long epoch)
        {
            _epoch = epoch;
            _current = null;
        }

        /// <summary>Writes a chunk; a problem when the write (or the blob's seal) failed.</summary>
        public string? Write(BlobChunk chunk, DueBlob due, Random random, SimSettings settings)
        {
            if (chunk.Epoch < _epoch) return null;
            _epoch = chunk.Epoch;
            if (chunk.Offset == 0) _current = (due, new MemoryStream(), false);
            if (_current is not { } current || current.Blob != due || current.Failed) return "chunk of a blob whose start was not written here";
            if (random.NextDouble() < settings.ChunkWriteFailure)
            {
                _current = current with { Failed = true };
                return "the disk failed halfway through the blob";
            }
            current.Bytes.Write(chunk.Bytes);
            if (current.Bytes.Length < due.Blob.Size) return null;
            _current = null;
            var bytes = current.Bytes.ToArray();
            if (random.NextDouble() < settings.SealFailure) return "sealing failed";
            if (!System.Security.Cryptography.SHA256.HashData(bytes).AsSpan().SequenceEqual(due.Blob.Sha256)) return "sha256 mismatch";
            _sealed.Add((chunk.Epoch, due, bytes));
            return null;
        }

        public (List<(long, DueBlob)> Durable, List<(long, DueBlob)> Failed) Flush(SimStore store, Random random, SimSettings settings)
        {
            FlushScheduled = false;
            var batch = _sealed.ToList();
            _sealed.Clear();
            if (random.NextDouble() < settings.FlushFailure) return ([], batch.Select(b => (b.Epoch, b.Blob)).ToList());
            foreach (var (_, due, bytes) in batch) store.PlaceDurable(due.Blob.FileId, bytes);
            return (batch.Select(b => (b.Epoch, b.Blob)).ToList(), []);
        }
    }
}
