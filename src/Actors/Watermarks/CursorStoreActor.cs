using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using static ClusterNode.Actors.Watermarks.CursorStore;

namespace ClusterNode.Actors.Watermarks;

/// <summary>
/// Keeps one peer's resume cursor on the journal. The cursor never moves backwards: an Advance at or below it
/// is answered without writing. Every <c>snapshotEvery</c> events it snapshots and deletes what the snapshot
/// covers, so recovery reads one snapshot and a few events however long the node has run.
/// </summary>
internal sealed class CursorStoreActor : ReceivePersistentActor
{
    private readonly int _snapshotEvery;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private long _cursor;
    private long _copyStart;
    private byte[] _copyAfterKey = [];
    private string _peerIncarnation = "";

    public CursorStoreActor(string persistenceId, int snapshotEvery, string? journalPluginId, string? snapshotPluginId)
    {
        PersistenceId = persistenceId;
        _snapshotEvery = snapshotEvery;
        if (journalPluginId is not null) JournalPluginId = journalPluginId;
        if (snapshotPluginId is not null) SnapshotPluginId = snapshotPluginId;

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is not CursorSnapshot snapshot) return;
            _cursor = Math.Max(_cursor, snapshot.Sequence);
            (_copyStart, _copyAfterKey) = (snapshot.CopyStart, snapshot.CopyAfterKey ?? []);
            _peerIncarnation = snapshot.PeerIncarnation;
        });
        Recover<CursorAdvanced>(Apply);
        Recover<CopyProgress>(Apply);
        Recover<PeerIncarnationSeen>(Apply);
        Recover<RecoveryCompleted>(_ => Context.Parent.Tell(new Recovered(_cursor, _copyStart, _copyStart > 0 ? _copyAfterKey : null, _peerIncarnation)));

        Command<Advance>(advance =>
        {
            if (advance.Sequence <= _cursor && _copyStart == 0)
            {
                Sender.Tell(new Persisted(_cursor));
                return;
            }
            var replyTo = Sender;
            Persist(new CursorAdvanced(Math.Max(_cursor, advance.Sequence)), advanced =>
            {
                Apply(advanced);
                replyTo.Tell(new Persisted(_cursor));
                SnapshotNow();
            });
        });
        Command<AdvanceCopy>(advance =>
        {
            var replyTo = Sender;
            Persist(new CopyProgress(advance.CopyStart, advance.AfterKey), progress =>
            {
                Apply(progress);
                replyTo.Tell(new CopyPersisted(progress.CopyStart, progress.AfterKey));
                SnapshotNow();
            });
        });
        Command<RecordIncarnation>(record =>
        {
            var reset = record.LogWentBack || (_peerIncarnation.Length > 0 && record.IncarnationId != _peerIncarnation);
            if (record.IncarnationId.Length == 0 || (record.IncarnationId == _peerIncarnation && !reset))
            {
                Sender.Tell(new IncarnationPersisted(_peerIncarnation, Reset: false));
                return;
            }
            var replyTo = Sender;
            Persist(new PeerIncarnationSeen(record.IncarnationId, reset), seen =>
            {
                Apply(seen);
                replyTo.Tell(new IncarnationPersisted(seen.IncarnationId, seen.Reset));
                SnapshotNow();
            });
        });
        Command<SaveSnapshotSuccess>(success =>
        {
            DeleteMessages(success.Metadata.SequenceNr);
            // A criteria of 0 would read as "all" to some stores and delete the snapshot just saved.
            if (success.Metadata.SequenceNr > 1) DeleteSnapshots(new SnapshotSelectionCriteria(success.Metadata.SequenceNr - 1));
        });
        Command<SaveSnapshotFailure>(failure => _log.Warning(failure.Cause, "cursor snapshot of {0} failed; events are kept", PersistenceId));
        Command<DeleteMessagesSuccess>(_ => { });
        Command<DeleteMessagesFailure>(failure => _log.Warning(failure.Cause, "deleting cursor events of {0} failed", PersistenceId));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(failure => _log.Warning(failure.Cause, "deleting old cursor snapshots of {0} failed", PersistenceId));
    }

    public override string PersistenceId { get; }

    /// <summary>A cursor move ends any copy: the stream from the copy's start has taken over.</summary>
    private void Apply(CursorAdvanced advanced)
    {
        _cursor = Math.Max(_cursor, advanced.Sequence);
        (_copyStart, _copyAfterKey) = (0, []);
    }

    private void Apply(CopyProgress progress) => (_copyStart, _copyAfterKey) = (progress.CopyStart, progress.AfterKey);

    /// <summary>A new incarnation of the peer starts its log over: what this node had from the old one says nothing of it.</summary>
    private void Apply(PeerIncarnationSeen seen)
    {
        _peerIncarnation = seen.IncarnationId;
        if (!seen.Reset) return;
        _cursor = 0;
        (_copyStart, _copyAfterKey) = (0, []);
    }

    private void SnapshotNow()
    {
        if (LastSequenceNr % _snapshotEvery == 0) SaveSnapshot(new CursorSnapshot(_cursor, _copyStart, _copyStart > 0 ? _copyAfterKey : null, _peerIncarnation));
    }
}
