using Akka.Actor;
using Akka.Persistence;
using Xunit;
using Xunit.Abstractions;
using static ClusterNode.Persistence.Tests.LmdbJournalSpecSupport;

namespace ClusterNode.Persistence.Tests;

/// <summary>
/// A real persistent actor on the LMDB journal and snapshot store, in the way our own actors use them: persist,
/// snapshot every few events, delete the events a snapshot covers, and come back in a new actor system on the
/// same directory.
/// </summary>
public sealed class LmdbJournalPersistentActorSpec : Akka.TestKit.Xunit2.TestKit
{
    private readonly string _directory;

    public LmdbJournalPersistentActorSpec(ITestOutputHelper output) : this(NewDirectory(), output)
    {
    }

    private LmdbJournalPersistentActorSpec(string directory, ITestOutputHelper output)
        : base(ConfigFor(directory), nameof(LmdbJournalPersistentActorSpec), output)
    {
        _directory = directory;
    }

    [Fact]
    public async Task Persistent_actor_must_recover_its_state_from_snapshot_and_events_in_a_new_actor_system()
    {
        var observer = CreateTestProbe();
        var counter = Sys.ActorOf(Counter.Props("counter-1", observer.Ref));
        for (var amount = 1; amount <= 7; amount++) counter.Tell(new Counter.Add(amount), observer.Ref);
        // Snapshots at 3 and 6, each followed by deleting the events it covers; these replies interleave with the
        // replies to the adds.
        var lastEventPersisted = false;
        var coveredEventsDeleted = false;
        while (!(lastEventPersisted && coveredEventsDeleted))
        {
            switch (await observer.ReceiveOneAsync(Patience))
            {
                case Counter.State { LastSequenceNr: 7 } state:
                    Assert.Equal(28, state.Total);
                    lastEventPersisted = true;
                    break;
                case DeleteMessagesSuccess { ToSequenceNr: 6 }:
                    coveredEventsDeleted = true;
                    break;
                case null:
                    Assert.Fail("timed out waiting for the last event and the deletes after the snapshot at 6");
                    break;
                case var failure when failure is SaveSnapshotFailure or DeleteMessagesFailure:
                    Assert.Fail($"unexpected {failure}");
                    break;
            }
        }
        await ShutdownAsync(verifySystemShutdown: true);

        var restarted = StartSystem("restarted", _directory);
        try
        {
            var probe = CreateTestProbe(restarted);
            var recovered = restarted.ActorOf(Counter.Props("counter-1", probe.Ref));

            recovered.Tell(Counter.GetState.Instance, probe.Ref);
            var state = await probe.ExpectMsgAsync<Counter.State>(Patience);
            Assert.Equal(new Counter.State(Total: 28, LastSequenceNr: 7, SnapshotSequenceNr: 6, EventsReplayed: 1), state);

            // Events 1 to 6 are gone, yet the journal remembers 7 as the highest: the next event is 8, not 1.
            recovered.Tell(new Counter.Add(10), probe.Ref);
            var after = await probe.ExpectMsgAsync<Counter.State>(Patience);
            Assert.Equal(38, after.Total);
            Assert.Equal(8, after.LastSequenceNr);
        }
        finally
        {
            await restarted.Terminate();
        }
    }

    protected override void Dispose(bool disposing)
    {
        // Shut the actor system down first: its plugins return their LMDB leases in PostStop.
        base.Dispose(disposing);
        if (disposing) DeleteDirectory(_directory);
    }

    /// <summary>Sums what it is told to add; snapshots every third event and then deletes the events it covers.</summary>
    public sealed class Counter : ReceivePersistentActor
    {
        public sealed record Add(int Amount);
        public sealed record Added(int Amount);
        public sealed record State(int Total, long LastSequenceNr, long? SnapshotSequenceNr, int EventsReplayed);

        public sealed class GetState
        {
            public static readonly GetState Instance = new();
            private GetState() { }
        }

        private const int SnapshotEvery = 3;

        private int _total;
        private long? _snapshotSequenceNr;
        private int _eventsReplayed;

        public Counter(string persistenceId, IActorRef observer)
        {
            PersistenceId = persistenceId;

            Recover<SnapshotOffer>(offer =>
            {
                _total = (int)offer.Snapshot;
                _snapshotSequenceNr = offer.Metadata.SequenceNr;
            });
            Recover<Added>(added =>
            {
                _total += added.Amount;
                _eventsReplayed++;
            });

            Command<Add>(add => Persist(new Added(add.Amount), added =>
            {
                _total += added.Amount;
                if (LastSequenceNr % SnapshotEvery == 0) SaveSnapshot(_total);
                Sender.Tell(CurrentState());
            }));
            Command<GetState>(_ => Sender.Tell(CurrentState()));
            Command<SaveSnapshotSuccess>(success =>
            {
                observer.Tell(success);
                DeleteMessages(success.Metadata.SequenceNr);
            });
            Command<SaveSnapshotFailure>(failure => observer.Tell(failure));
            Command<DeleteMessagesSuccess>(success => observer.Tell(success));
            Command<DeleteMessagesFailure>(failure => observer.Tell(failure));
        }

        public override string PersistenceId { get; }

        public static Props Props(string persistenceId, IActorRef observer) =>
            Akka.Actor.Props.Create(() => new Counter(persistenceId, observer));

        private State CurrentState() => new(_total, LastSequenceNr, _snapshotSequenceNr, _eventsReplayed);
    }
}
