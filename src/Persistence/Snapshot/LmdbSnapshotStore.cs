using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Snapshot;
using ClusterNode.Persistence.Journal;
using ClusterNode.Persistence.Lmdb;
using LightningDB;
using AkkaSerialization = Akka.Serialization.Serialization;

namespace ClusterNode.Persistence.Snapshot;

/// <summary>
/// The Akka.Persistence snapshot store on LightningDB (<c>akka.persistence.snapshot-store.lmdb</c>): one database
/// keyed by <see cref="LmdbSequenceKey"/>, one snapshot per (persistence id, sequence number), a later save at the
/// same sequence number replacing the earlier. The youngest snapshot matching a criteria is found by walking the
/// id's keys backwards from the criteria's highest sequence number.
/// </summary>
/// <remarks>
/// As in <see cref="LmdbJournal"/>, every hook does its LMDB work synchronously on the plugin dispatcher and
/// returns a completed task, so a write transaction never spans an await.
/// </remarks>
public sealed class LmdbSnapshotStore : SnapshotStore
{
    private const string SnapshotsDatabaseName = "akka-snapshots";

    private readonly LmdbPluginStorage _storage;
    private readonly LmdbPluginSettings _settings;
    private readonly ExtendedActorSystem _system;
    private readonly AkkaSerialization _serialization;
    private readonly LightningDatabase _snapshots;
    private readonly int _maxKeyBytes;

    public LmdbSnapshotStore(Config config)
    {
        _storage = LmdbPluginStorage.Open(config, Context, "snapshot", SnapshotsDatabaseName);
        _settings = _storage.Settings;
        _snapshots = _storage.Databases[0];
        _maxKeyBytes = _storage.Environment.MaxKeySize;
        _system = (ExtendedActorSystem)Context.System;
        _serialization = _system.Serialization;
    }

    protected override void PostStop()
    {
        _storage.Dispose();
        base.PostStop();
    }

    protected override Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria,
        CancellationToken cancellationToken)
    {
        try
        {
            var prefix = LmdbSequenceKey.Prefix(persistenceId, _maxKeyBytes);
            var found = FindYoungest(prefix, criteria);
            if (found is null) return Task.FromResult<SelectedSnapshot?>(null);
            // Deserialize outside the read transaction: the value was copied out.
            var (sequenceNr, value) = found.Value;
            var entry = LmdbSnapshotEntry.Decode(value);
            var snapshot = _serialization.Deserialize(entry.Payload, entry.SerializerId, entry.SerializerManifest);
            var metadata = new SnapshotMetadata(persistenceId, sequenceNr,
                new DateTime(entry.TimestampTicks, DateTimeKind.Utc));
            return Task.FromResult<SelectedSnapshot?>(new SelectedSnapshot(metadata, snapshot));
        }
        catch (Exception e)
        {
            return Task.FromException<SelectedSnapshot?>(e);
        }
    }

    protected override Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        try
        {
            var key = LmdbSequenceKey.Encode(LmdbSequenceKey.Prefix(metadata.PersistenceId, _maxKeyBytes), metadata.SequenceNr);
            var serializer = _serialization.FindSerializerFor(snapshot);
            // WithTransport lets actor references inside the snapshot serialize with this system's address.
            var bytes = AkkaSerialization.WithTransport(_system, (serializer, snapshot), state => state.serializer.ToBinary(state.snapshot));
            var value = new LmdbSnapshotEntry(metadata.Timestamp.Ticks, serializer.Identifier,
                AkkaSerialization.ManifestFor(serializer, snapshot), bytes).Encode();

            cancellationToken.ThrowIfCancellationRequested();
            var operation = $"saving snapshot {metadata.SequenceNr} of '{metadata.PersistenceId}' ({value.Length} bytes)";
            using var transaction = _storage.Environment.BeginTransaction();
            LmdbMapFullException.ThrowIfFailed(transaction.Put(_snapshots, key, value), operation, _settings);
            LmdbMapFullException.ThrowIfFailed(transaction.Commit(), operation, _settings);
            return Task.CompletedTask;
        }
        catch (Exception e)
        {
            return Task.FromException(e);
        }
    }

    /// <summary>
    /// Deletes the snapshot at the metadata's sequence number, unless the metadata names a time and the stored
    /// snapshot is younger than it (then the caller meant an older snapshot that a later save replaced).
    /// </summary>
    protected override Task DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken)
    {
        try
        {
            var key = LmdbSequenceKey.Encode(LmdbSequenceKey.Prefix(metadata.PersistenceId, _maxKeyBytes), metadata.SequenceNr);
            // Akka uses DateTime.MinValue for "no timestamp" (SnapshotMetadata.TimestampNotSpecified); MaxValue also
            // matches everything.
            var anyTime = metadata.Timestamp == DateTime.MinValue || metadata.Timestamp == DateTime.MaxValue;
            var operation = $"deleting snapshot {metadata.SequenceNr} of '{metadata.PersistenceId}'";
            using var transaction = _storage.Environment.BeginTransaction();
            var (code, _, value) = transaction.Get(_snapshots, key);
            code.ThrowOnReadError();
            if (code == MDBResultCode.Success &&
                (anyTime || LmdbSnapshotEntry.ReadTimestampTicks(value.AsSpan()) <= metadata.Timestamp.Ticks))
                LmdbMapFullException.ThrowIfFailed(transaction.Delete(_snapshots, key), operation, _settings);
            LmdbMapFullException.ThrowIfFailed(transaction.Commit(), operation, _settings);
            return Task.CompletedTask;
        }
        catch (Exception e)
        {
            return Task.FromException(e);
        }
    }

    protected override Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria,
        CancellationToken cancellationToken)
    {
        try
        {
            var prefix = LmdbSequenceKey.Prefix(persistenceId, _maxKeyBytes);
            var operation = $"deleting snapshots of '{persistenceId}'";
            using var transaction = _storage.Environment.BeginTransaction();
            using (var cursor = transaction.CreateCursor(_snapshots))
            {
                var code = cursor.SetRange(LmdbSequenceKey.Encode(prefix, Math.Max(criteria.MinSequenceNr, 0)));
                while (code == MDBResultCode.Success)
                {
                    var (currentCode, key, value) = cursor.GetCurrent();
                    currentCode.ThrowOnError();
                    if (!LmdbSequenceKey.TryReadSequenceNr(key.AsSpan(), prefix, out var sequenceNr) || sequenceNr > criteria.MaxSequenceNr) break;
                    if (MatchesTime(criteria, LmdbSnapshotEntry.ReadTimestampTicks(value.AsSpan())))
                        LmdbMapFullException.ThrowIfFailed(cursor.Delete(), operation, _settings);
                    // After a delete LMDB's next step lands on the entry that followed the deleted one.
                    code = cursor.Next().resultCode;
                }
                code.ThrowOnReadError();
            }
            LmdbMapFullException.ThrowIfFailed(transaction.Commit(), operation, _settings);
            return Task.CompletedTask;
        }
        catch (Exception e)
        {
            return Task.FromException(e);
        }
    }

    /// <summary>The highest-numbered snapshot of the id that matches <paramref name="criteria"/>, copied out.</summary>
    private (long SequenceNr, byte[] Value)? FindYoungest(byte[] prefix, SnapshotSelectionCriteria criteria)
    {
        if (criteria.MaxSequenceNr < 0 || criteria.MaxSequenceNr < criteria.MinSequenceNr) return null;
        using var transaction = _storage.Environment.BeginTransaction(TransactionBeginFlags.ReadOnly);
        using var cursor = transaction.CreateCursor(_snapshots);

        // Land on the first key at or after (id, max); unless that is (id, max) itself, the youngest candidate is
        // the key before it.
        var code = cursor.SetRange(LmdbSequenceKey.Encode(prefix, criteria.MaxSequenceNr));
        if (code == MDBResultCode.NotFound)
            code = cursor.Last().resultCode;
        else if (code == MDBResultCode.Success)
        {
            var (_, landed, _) = cursor.GetCurrent();
            if (!LmdbSequenceKey.TryReadSequenceNr(landed.AsSpan(), prefix, out var landedSequenceNr) || landedSequenceNr > criteria.MaxSequenceNr)
                code = cursor.Previous().resultCode;
        }

        while (code == MDBResultCode.Success)
        {
            var (currentCode, key, value) = cursor.GetCurrent();
            currentCode.ThrowOnError();
            if (!LmdbSequenceKey.TryReadSequenceNr(key.AsSpan(), prefix, out var sequenceNr) || sequenceNr < criteria.MinSequenceNr)
                return null;
            if (MatchesTime(criteria, LmdbSnapshotEntry.ReadTimestampTicks(value.AsSpan())))
                return (sequenceNr, value.CopyToNewArray());
            code = cursor.Previous().resultCode;
        }
        code.ThrowOnReadError();
        return null;
    }

    private static bool MatchesTime(SnapshotSelectionCriteria criteria, long timestampTicks) =>
        timestampTicks <= criteria.MaxTimeStamp.Ticks &&
        (criteria.MinTimestamp is not { } minTimestamp || timestampTicks >= minTimestamp.Ticks);
}
