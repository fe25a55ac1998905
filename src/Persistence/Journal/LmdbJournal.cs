using System.Buffers.Binary;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;
using ClusterNode.Persistence.Lmdb;
using LightningDB;
using AkkaSerialization = Akka.Serialization.Serialization;

namespace ClusterNode.Persistence.Journal;

/// <summary>
/// The Akka.Persistence journal on LightningDB (<c>akka.persistence.journal.lmdb</c>). Events live in one database
/// keyed by <see cref="LmdbSequenceKey"/>, so a replay is one ordered cursor scan; a second database keeps the
/// highest sequence number written per persistence id, because deleting events must never lower it.
/// </summary>
/// <remarks>
/// Every hook does its LMDB work synchronously and returns a completed task: a write transaction must begin and
/// commit on one thread with nothing awaited in between, and the plugin runs on its own dispatcher
/// (<c>plugin-dispatcher</c>), where blocking on a commit's fsync stalls no other actor.
/// </remarks>
public sealed class LmdbJournal : AsyncWriteJournal
{
    private const string EventsDatabaseName = "akka-journal-events";
    private const string HighestSequenceNrDatabaseName = "akka-journal-highest-sequence-nr";

    // A replay reads in bounded batches, each in its own short read transaction: replaying a long journal then
    // neither holds all of it in memory nor keeps old pages pinned against writers for the whole replay.
    private const int ReplayBatchEntries = 256;
    private const int ReplayBatchBytes = 4 << 20;

    // A long delete runs as several transactions so that one delete cannot outgrow LMDB's dirty-page limit;
    // deleting a prefix is idempotent, so stopping between batches loses nothing.
    private const int DeleteBatchEntries = 10_000;

    private readonly LmdbPluginStorage _storage;
    private readonly LmdbPluginSettings _settings;
    private readonly ExtendedActorSystem _system;
    private readonly AkkaSerialization _serialization;
    private readonly LightningDatabase _events;
    private readonly LightningDatabase _highestSequenceNrs;
    private readonly int _maxKeyBytes;

    public LmdbJournal(Config config)
    {
        _storage = LmdbPluginStorage.Open(config, Context, "journal", EventsDatabaseName, HighestSequenceNrDatabaseName);
        _settings = _storage.Settings;
        _events = _storage.Databases[0];
        _highestSequenceNrs = _storage.Databases[1];
        _maxKeyBytes = _storage.Environment.MaxKeySize;
        _system = (ExtendedActorSystem)Context.System;
        _serialization = _system.Serialization;
    }

    protected override void PostStop()
    {
        _storage.Dispose();
        base.PostStop();
    }

    protected override Task<IImmutableList<Exception?>> WriteMessagesAsync(
        IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        try
        {
            var writes = messages.ToList();
            var rejections = new Exception?[writes.Count];
            var accepted = new List<EncodedEvent>();
            var nowTicks = DateTime.UtcNow.Ticks;
            for (var i = 0; i < writes.Count; i++)
            {
                // Serialization fails before anything is stored, so it rejects just this AtomicWrite, whole:
                // all of its events or none.
                try { accepted.AddRange(Encode(writes[i], nowTicks)); }
                catch (Exception e) { rejections[i] = e; }
            }

            cancellationToken.ThrowIfCancellationRequested();
            // One transaction, so one fsync, for every accepted AtomicWrite of the batch.
            if (accepted.Count > 0) Store(accepted);
            return Task.FromResult<IImmutableList<Exception?>>(rejections.ToImmutableList());
        }
        catch (Exception e)
        {
            return Task.FromException<IImmutableList<Exception?>>(e);
        }
    }

    public override Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr,
        long toSequenceNr, long max, Action<IPersistentRepresentation> recoveryCallback)
    {
        try
        {
            var prefix = LmdbSequenceKey.Prefix(persistenceId, _maxKeyBytes);
            var next = Math.Max(fromSequenceNr, 0);
            var remaining = max;
            while (remaining > 0 && next <= toSequenceNr)
            {
                var (entries, rangeEnded) = ReadBatch(prefix, next, toSequenceNr, (int)Math.Min(remaining, ReplayBatchEntries));
                // Deserialize and deliver outside the read transaction: the values were copied out.
                foreach (var (sequenceNr, value) in entries) recoveryCallback(ToPersistent(persistenceId, sequenceNr, value));
                if (rangeEnded || entries.Count == 0) break;
                var last = entries[^1].SequenceNr;
                if (last == long.MaxValue) break;
                remaining -= entries.Count;
                next = last + 1;
            }
            return Task.CompletedTask;
        }
        catch (Exception e)
        {
            return Task.FromException(e);
        }
    }

    public override Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr,
        CancellationToken cancellationToken)
    {
        try
        {
            var prefix = LmdbSequenceKey.Prefix(persistenceId, _maxKeyBytes);
            using var transaction = _storage.Environment.BeginTransaction(TransactionBeginFlags.ReadOnly);
            return Task.FromResult(ReadHighestSequenceNr(transaction, prefix));
        }
        catch (Exception e)
        {
            return Task.FromException<long>(e);
        }
    }

    protected override Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr,
        CancellationToken cancellationToken)
    {
        try
        {
            var prefix = LmdbSequenceKey.Prefix(persistenceId, _maxKeyBytes);
            // The highest sequence number stays in its own database: the contract is that it never goes down.
            while (DeleteBatch(prefix, toSequenceNr) == DeleteBatchEntries) cancellationToken.ThrowIfCancellationRequested();
            return Task.CompletedTask;
        }
        catch (Exception e)
        {
            return Task.FromException(e);
        }
    }

    private readonly record struct EncodedEvent(string PersistenceId, byte[] Prefix, long SequenceNr, byte[] Value);

    private List<EncodedEvent> Encode(AtomicWrite write, long nowTicks)
    {
        var prefix = LmdbSequenceKey.Prefix(write.PersistenceId, _maxKeyBytes);
        var events = (IImmutableList<IPersistentRepresentation>)write.Payload;
        var encoded = new List<EncodedEvent>(events.Count);
        foreach (var persistent in events)
        {
            if (persistent.SequenceNr < 1)
                throw new ArgumentException($"event of '{write.PersistenceId}' has sequence number {persistent.SequenceNr}, below 1");
            // A write adapter may wrap the event to tag it: store the event itself, and the tags beside it.
            var (payload, tags) = persistent.Payload is Tagged tagged
                ? (tagged.Payload, (IReadOnlyList<string>)tagged.Tags.ToArray())
                : (persistent.Payload, []);
            var serializer = _serialization.FindSerializerFor(payload);
            // WithTransport lets actor references inside the event serialize with this system's address.
            var bytes = AkkaSerialization.WithTransport(_system, (serializer, payload), state => state.serializer.ToBinary(state.payload));
            var entry = new LmdbJournalEntry(
                TimestampTicks: persistent.Timestamp > 0 ? persistent.Timestamp : nowTicks,
                SerializerId: serializer.Identifier,
                SerializerManifest: AkkaSerialization.ManifestFor(serializer, payload),
                WriterGuid: persistent.WriterGuid ?? "",
                EventManifest: persistent.Manifest ?? "",
                Tags: tags,
                Payload: bytes);
            encoded.Add(new EncodedEvent(write.PersistenceId, prefix, persistent.SequenceNr, entry.Encode()));
        }
        return encoded;
    }

    private void Store(List<EncodedEvent> events)
    {
        var operation = $"writing {events.Count} events";
        using var transaction = _storage.Environment.BeginTransaction();
        foreach (var encoded in events)
        {
            var key = LmdbSequenceKey.Encode(encoded.Prefix, encoded.SequenceNr);
            LmdbMapFullException.ThrowIfFailed(transaction.Put(_events, key, encoded.Value), operation, _settings);
        }
        var highestPerId = events
            .GroupBy(encoded => encoded.PersistenceId, StringComparer.Ordinal)
            .Select(group => (group.First().Prefix, SequenceNr: group.Max(encoded => encoded.SequenceNr)));
        foreach (var (prefix, sequenceNr) in highestPerId)
        {
            if (sequenceNr <= ReadHighestSequenceNr(transaction, prefix)) continue;
            var value = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(value, sequenceNr);
            LmdbMapFullException.ThrowIfFailed(transaction.Put(_highestSequenceNrs, prefix, value), operation, _settings);
        }
        LmdbMapFullException.ThrowIfFailed(transaction.Commit(), operation, _settings);
    }

    /// <summary>The highest sequence number ever written for the id (keyed by its prefix), 0 if none.</summary>
    private long ReadHighestSequenceNr(LightningTransaction transaction, byte[] prefix)
    {
        var (code, _, value) = transaction.Get(_highestSequenceNrs, prefix);
        if (code == MDBResultCode.NotFound) return 0;
        code.ThrowOnError();
        var bytes = value.AsSpan();
        if (bytes.Length != 8) throw new FormatException($"highest sequence number entry has {bytes.Length} bytes, not 8");
        return BinaryPrimitives.ReadInt64BigEndian(bytes);
    }

    /// <returns>Up to <paramref name="maxEntries"/> events from <paramref name="fromSequenceNr"/> on, and whether the
    /// scan reached the end of the requested range (rather than a batch limit).</returns>
    private (List<(long SequenceNr, byte[] Value)> Entries, bool RangeEnded) ReadBatch(
        byte[] prefix, long fromSequenceNr, long toSequenceNr, int maxEntries)
    {
        var entries = new List<(long SequenceNr, byte[] Value)>();
        var batchBytes = 0L;
        using var transaction = _storage.Environment.BeginTransaction(TransactionBeginFlags.ReadOnly);
        using var cursor = transaction.CreateCursor(_events);
        var code = cursor.SetRange(LmdbSequenceKey.Encode(prefix, fromSequenceNr));
        while (code == MDBResultCode.Success)
        {
            if (entries.Count >= maxEntries || batchBytes >= ReplayBatchBytes) return (entries, false);
            var (currentCode, key, value) = cursor.GetCurrent();
            currentCode.ThrowOnError();
            if (!LmdbSequenceKey.TryReadSequenceNr(key.AsSpan(), prefix, out var sequenceNr) || sequenceNr > toSequenceNr)
                return (entries, true);
            var copy = value.CopyToNewArray();
            entries.Add((sequenceNr, copy));
            batchBytes += copy.Length;
            code = cursor.Next().resultCode;
        }
        code.ThrowOnReadError();
        return (entries, true);
    }

    private Persistent ToPersistent(string persistenceId, long sequenceNr, byte[] value)
    {
        var entry = LmdbJournalEntry.Decode(value);
        var payload = _serialization.Deserialize(entry.Payload, entry.SerializerId, entry.SerializerManifest);
        return new Persistent(payload, sequenceNr, persistenceId, entry.EventManifest, isDeleted: false,
            sender: ActorRefs.NoSender, writerGuid: entry.WriterGuid, timestamp: entry.TimestampTicks);
    }

    /// <returns>How many events this batch deleted; fewer than <see cref="DeleteBatchEntries"/> means done.</returns>
    private int DeleteBatch(byte[] prefix, long toSequenceNr)
    {
        var deleted = 0;
        using var transaction = _storage.Environment.BeginTransaction();
        using (var cursor = transaction.CreateCursor(_events))
        {
            var code = cursor.SetRange(LmdbSequenceKey.Encode(prefix, 0));
            while (code == MDBResultCode.Success && deleted < DeleteBatchEntries)
            {
                var (currentCode, key, _) = cursor.GetCurrent();
                currentCode.ThrowOnError();
                if (!LmdbSequenceKey.TryReadSequenceNr(key.AsSpan(), prefix, out var sequenceNr) || sequenceNr > toSequenceNr) break;
                LmdbMapFullException.ThrowIfFailed(cursor.Delete(), "deleting events", _settings);
                deleted++;
                // After a delete LMDB's next step lands on the entry that followed the deleted one.
                code = cursor.Next().resultCode;
            }
            code.ThrowOnReadError();
        }
        LmdbMapFullException.ThrowIfFailed(transaction.Commit(), "deleting events", _settings);
        return deleted;
    }
}
