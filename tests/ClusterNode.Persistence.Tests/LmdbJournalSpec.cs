using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;
using ClusterNode.Persistence.Journal;
using Xunit;
using Xunit.Abstractions;
using static ClusterNode.Persistence.Tests.LmdbJournalSpecSupport;
using AkkaPersistence = Akka.Persistence.Persistence;

namespace ClusterNode.Persistence.Tests;

/// <summary>
/// The cases of Akka.Persistence.TCK's JournalSpec (which is not available here), driven through the journal
/// protocol against <see cref="LmdbJournal"/>, plus what LMDB adds: restarts on the same directory, a full map,
/// and reads and deletes longer than one batch.
/// </summary>
public sealed class LmdbJournalSpec : Akka.TestKit.Xunit2.TestKit
{
    private const string Pid = "p-1";
    private const int ActorInstanceId = 1;

    private readonly string _directory;
    private readonly string _writerGuid = Guid.NewGuid().ToString();

    public LmdbJournalSpec(ITestOutputHelper output) : this(NewDirectory(), output)
    {
    }

    private LmdbJournalSpec(string directory, ITestOutputHelper output)
        : base(ConfigFor(directory), nameof(LmdbJournalSpec), output)
    {
        _directory = directory;
    }

    private IActorRef Journal => AkkaPersistence.Instance.Apply(Sys).JournalFor(null);

    [Fact]
    public async Task Journal_must_replay_all_messages()
    {
        await WriteFiveEventsAsync();
        var replayed = await ReplayAsync(1, long.MaxValue, long.MaxValue, expectedHighest: 5);
        AssertReplayed([1, 2, 3, 4, 5], replayed);
    }

    [Fact]
    public async Task Journal_must_replay_messages_using_a_lower_sequence_number_bound()
    {
        await WriteFiveEventsAsync();
        AssertReplayed([3, 4, 5], await ReplayAsync(3, long.MaxValue, long.MaxValue, expectedHighest: 5));
    }

    [Fact]
    public async Task Journal_must_replay_messages_using_an_upper_sequence_number_bound()
    {
        await WriteFiveEventsAsync();
        AssertReplayed([1, 2, 3], await ReplayAsync(1, 3, long.MaxValue, expectedHighest: 5));
    }

    [Fact]
    public async Task Journal_must_replay_messages_using_a_count_limit()
    {
        await WriteFiveEventsAsync();
        AssertReplayed([1, 2, 3], await ReplayAsync(1, long.MaxValue, 3, expectedHighest: 5));
    }

    [Fact]
    public async Task Journal_must_replay_messages_using_lower_and_upper_sequence_number_bound_and_count_limit()
    {
        await WriteFiveEventsAsync();
        AssertReplayed([2, 3], await ReplayAsync(2, 3, long.MaxValue, expectedHighest: 5));
        AssertReplayed([2, 3], await ReplayAsync(2, 5, 2, expectedHighest: 5));
    }

    [Fact]
    public async Task Journal_must_replay_a_single_message_if_lower_bound_equals_upper_bound_or_count_limit_is_one()
    {
        await WriteFiveEventsAsync();
        AssertReplayed([2], await ReplayAsync(2, 2, long.MaxValue, expectedHighest: 5));
        AssertReplayed([2], await ReplayAsync(2, 4, 1, expectedHighest: 5));
    }

    [Fact]
    public async Task Journal_must_not_replay_messages_if_count_limit_is_zero_or_lower_bound_is_above_upper_bound()
    {
        await WriteFiveEventsAsync();
        AssertReplayed([], await ReplayAsync(2, 4, 0, expectedHighest: 5));
        AssertReplayed([], await ReplayAsync(3, 2, long.MaxValue, expectedHighest: 5));
    }

    [Fact]
    public async Task Journal_must_not_replay_messages_if_the_persistent_actor_has_not_yet_written_messages()
    {
        await WriteFiveEventsAsync();
        AssertReplayed([], await ReplayAsync(0, long.MaxValue, long.MaxValue, expectedHighest: 0, persistenceId: "non-existing-pid"));
    }

    [Fact]
    public async Task Journal_must_keep_persistence_ids_that_share_a_prefix_apart()
    {
        // "p-1" is a prefix of "p-10" and "p-1x": their keys are neighbours in LMDB's order.
        await WriteAsync(new AtomicWrite(Event(1, "p-10 one", "p-10")), new AtomicWrite(Event(1, "p-1x one", "p-1x")));
        await WriteFiveEventsAsync();
        await WriteAsync(new AtomicWrite(Event(2, "p-10 two", "p-10")));

        AssertReplayed([1, 2, 3, 4, 5], await ReplayAsync(1, long.MaxValue, long.MaxValue, expectedHighest: 5));
        var other = await ReplayAsync(1, long.MaxValue, long.MaxValue, expectedHighest: 2, persistenceId: "p-10");
        Assert.Equal(["p-10 one", "p-10 two"], other.Select(p => (string)p.Payload));
    }

    [Fact]
    public async Task Journal_must_not_replay_permanently_deleted_messages_on_range_deletion()
    {
        await WriteFiveEventsAsync();
        var deleter = CreateTestProbe();
        var subscriber = CreateTestProbe();
        Sys.EventStream.Subscribe(subscriber.Ref, typeof(DeleteMessagesTo));

        Journal.Tell(new DeleteMessagesTo(Pid, 3, deleter.Ref));
        await subscriber.ExpectMsgAsync<DeleteMessagesTo>(m => m.PersistenceId == Pid && m.ToSequenceNr == 3, Patience);
        await deleter.ExpectMsgAsync<DeleteMessagesSuccess>(m => m.ToSequenceNr == 3, Patience);

        AssertReplayed([4, 5], await ReplayAsync(1, long.MaxValue, long.MaxValue, expectedHighest: 5));
        await deleter.ExpectNoMsgAsync(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public async Task Journal_must_not_reset_highest_sequence_number_after_message_deletion()
    {
        await WriteFiveEventsAsync();
        await DeleteToAsync(3);
        AssertReplayed([4, 5], await ReplayAsync(0, long.MaxValue, long.MaxValue, expectedHighest: 5));
    }

    [Fact]
    public async Task Journal_must_not_reset_highest_sequence_number_after_deleting_every_message()
    {
        await WriteFiveEventsAsync();
        await DeleteToAsync(long.MaxValue);
        AssertReplayed([], await ReplayAsync(0, long.MaxValue, long.MaxValue, expectedHighest: 5));

        // A persistent actor would continue at 6; the journal takes it and replays only it.
        await WriteAsync(new AtomicWrite(Event(6)));
        AssertReplayed([6], await ReplayAsync(0, long.MaxValue, long.MaxValue, expectedHighest: 6));
    }

    [Fact]
    public async Task Journal_must_reject_a_non_serializable_event_without_breaking_the_writes_around_it()
    {
        await WriteFiveEventsAsync();
        var probe = CreateTestProbe();
        var writes = new[]
        {
            new AtomicWrite(Event(6, "b-6")),
            new AtomicWrite(Event(7, new LmdbJournalSpecSupport.Unserializable("test"))),
            new AtomicWrite(Event(8, "b-8")),
        };

        Journal.Tell(new WriteMessages(writes, probe.Ref, ActorInstanceId));

        await probe.ExpectMsgAsync<WriteMessagesSuccessful>(Patience);
        await probe.ExpectMsgAsync<WriteMessageSuccess>(m => m.Persistent.SequenceNr == 6 && Equals(m.Persistent.Payload, "b-6"), Patience);
        var rejected = await probe.ExpectMsgAsync<WriteMessageRejected>(m => m.Persistent.SequenceNr == 7, Patience);
        Assert.IsType<System.Runtime.Serialization.SerializationException>(rejected.Cause);
        await probe.ExpectMsgAsync<WriteMessageSuccess>(m => m.Persistent.SequenceNr == 8 && Equals(m.Persistent.Payload, "b-8"), Patience);

        var replayed = await ReplayAsync(1, long.MaxValue, long.MaxValue, expectedHighest: 8);
        Assert.Equal([1L, 2, 3, 4, 5, 6, 8], replayed.Select(p => p.SequenceNr));

        await WriteAsync(new AtomicWrite(Event(9)));
        Assert.Equal(9, (await ReplayAsync(9, long.MaxValue, long.MaxValue, expectedHighest: 9)).Single().SequenceNr);
    }

    [Fact]
    public async Task Journal_must_write_an_AtomicWrite_of_several_events_in_order_and_all_or_nothing()
    {
        var probe = CreateTestProbe();
        var spoiled = new AtomicWrite(ImmutableList.Create<IPersistentRepresentation>(
            Event(1), Event(2), Event(3, new LmdbJournalSpecSupport.Unserializable("third of three"))));
        Journal.Tell(new WriteMessages([spoiled], probe.Ref, ActorInstanceId));

        await probe.ExpectMsgAsync<WriteMessagesSuccessful>(Patience);
        for (var sequenceNr = 1; sequenceNr <= 3; sequenceNr++)
        {
            var expected = sequenceNr;
            await probe.ExpectMsgAsync<WriteMessageRejected>(m => m.Persistent.SequenceNr == expected, Patience);
        }
        // Nothing of the rejected AtomicWrite is stored, not even the events that did serialize.
        AssertReplayed([], await ReplayAsync(1, long.MaxValue, long.MaxValue, expectedHighest: 0));

        await WriteAsync(new AtomicWrite(ImmutableList.Create<IPersistentRepresentation>(Event(1), Event(2), Event(3))));
        AssertReplayed([1, 2, 3], await ReplayAsync(1, long.MaxValue, long.MaxValue, expectedHighest: 3));
    }

    [Fact]
    public async Task Journal_must_round_trip_serializer_manifest_writer_guid_event_manifest_timestamp_and_tags()
    {
        var beforeTicks = DateTime.UtcNow.Ticks;
        await WriteAsync(
            new AtomicWrite(new Persistent(new LmdbJournalSpecSupport.Celsius(21), 1, Pid, "temperature-v1",
                sender: ActorRefs.NoSender, writerGuid: _writerGuid)),
            new AtomicWrite(Event(2, new Tagged(new LmdbJournalSpecSupport.Fahrenheit(70), ["weather"]))));
        var afterTicks = DateTime.UtcNow.Ticks;

        var replayed = await ReplayAsync(1, long.MaxValue, long.MaxValue, expectedHighest: 2);

        Assert.Equal(new LmdbJournalSpecSupport.Celsius(21), replayed[0].Payload);
        Assert.Equal("temperature-v1", replayed[0].Manifest);
        Assert.Equal(_writerGuid, replayed[0].WriterGuid);
        // The tag wrapper is the write side's business: replay hands back the event itself.
        Assert.Equal(new LmdbJournalSpecSupport.Fahrenheit(70), replayed[1].Payload);
        // Akka hands the journal events without a timestamp: the journal stamps the time it stored them.
        Assert.All(replayed, p => Assert.InRange(p.Timestamp, beforeTicks, afterTicks));
    }

    [Fact]
    public async Task Journal_must_replay_and_delete_more_events_than_one_batch()
    {
        const int count = 10_050; // more than one delete batch (10 000) and many replay batches (256)
        await WriteAsync(Enumerable.Range(1, count).Select(i => new AtomicWrite(Event(i))).ToArray());

        var all = await ReplayAsync(1, long.MaxValue, long.MaxValue, expectedHighest: count);
        Assert.Equal(Enumerable.Range(1, count).Select(i => (long)i), all.Select(p => p.SequenceNr));
        var limited = await ReplayAsync(200, long.MaxValue, 300, expectedHighest: count);
        Assert.Equal(Enumerable.Range(200, 300).Select(i => (long)i), limited.Select(p => p.SequenceNr));

        await DeleteToAsync(count - 1);
        AssertReplayed([count], await ReplayAsync(1, long.MaxValue, long.MaxValue, expectedHighest: count));
    }

    [Fact]
    public async Task Journal_must_recover_events_and_highest_sequence_number_in_a_new_actor_system_on_the_same_directory()
    {
        await WriteFiveEventsAsync();
        await DeleteToAsync(2);
        await ShutdownAsync(verifySystemShutdown: true);

        var restarted = StartSystem("restarted", _directory);
        try
        {
            var replayed = await ReplayAsync(restarted, 1, long.MaxValue, long.MaxValue, expectedHighest: 5);
            AssertReplayed([3, 4, 5], replayed);
            Assert.All(replayed, p => Assert.Equal(_writerGuid, p.WriterGuid));
        }
        finally
        {
            await restarted.Terminate();
        }
    }

    [Fact]
    public async Task Journal_must_keep_the_highest_sequence_number_of_a_fully_deleted_journal_across_a_restart()
    {
        await WriteFiveEventsAsync();
        await DeleteToAsync(long.MaxValue);
        await ShutdownAsync(verifySystemShutdown: true);

        var restarted = StartSystem("restarted", _directory);
        try
        {
            AssertReplayed([], await ReplayAsync(restarted, 1, long.MaxValue, long.MaxValue, expectedHighest: 5));
        }
        finally
        {
            await restarted.Terminate();
        }
    }

    [Fact]
    public async Task Journal_must_fail_a_write_beyond_the_map_size_with_a_clear_error_and_accept_later_writes()
    {
        // A journal of its own on a 1 MiB map; 2 MiB of event cannot fit.
        var smallDirectory = Path.Combine(_directory, "small-map");
        var small = StartSystem("small-map", smallDirectory, mapSize: "1 MiB");
        try
        {
            var journal = AkkaPersistence.Instance.Apply(small).JournalFor(null);
            var probe = CreateTestProbe(small);

            journal.Tell(new WriteMessages([new AtomicWrite(Event(1, new byte[2 << 20]))], probe.Ref, ActorInstanceId));

            var failed = await probe.ExpectMsgAsync<WriteMessagesFailed>(Patience);
            var full = Assert.IsType<LmdbMapFullException>(failed.Cause);
            Assert.Contains("akka.persistence.journal.lmdb.map-size", full.Message);
            await probe.ExpectMsgAsync<WriteMessageFailure>(m => m.Persistent.SequenceNr == 1, Patience);

            journal.Tell(new WriteMessages([new AtomicWrite(Event(1, "fits"))], probe.Ref, ActorInstanceId));
            await probe.ExpectMsgAsync<WriteMessagesSuccessful>(Patience);
            await probe.ExpectMsgAsync<WriteMessageSuccess>(m => m.Persistent.SequenceNr == 1, Patience);
        }
        finally
        {
            await small.Terminate();
        }
    }

    protected override void Dispose(bool disposing)
    {
        // Shut the actor system down first: its plugins return their LMDB leases in PostStop.
        base.Dispose(disposing);
        if (disposing) DeleteDirectory(_directory);
    }

    private Persistent Event(long sequenceNr, object? payload = null, string persistenceId = Pid) =>
        new(payload ?? $"a-{sequenceNr}", sequenceNr, persistenceId, sender: ActorRefs.NoSender, writerGuid: _writerGuid);

    /// <summary>Events 1 to 5 as the TCK writes them: 1, 2 and 3 alone, then 4 and 5 in one AtomicWrite.</summary>
    private Task WriteFiveEventsAsync() => WriteAsync(
        new AtomicWrite(Event(1)),
        new AtomicWrite(Event(2)),
        new AtomicWrite(Event(3)),
        new AtomicWrite(ImmutableList.Create<IPersistentRepresentation>(Event(4), Event(5))));

    /// <summary>Writes and expects every event to succeed, in order.</summary>
    private async Task WriteAsync(params AtomicWrite[] writes)
    {
        var probe = CreateTestProbe();
        Journal.Tell(new WriteMessages(writes, probe.Ref, ActorInstanceId));
        await probe.ExpectMsgAsync<WriteMessagesSuccessful>(Patience);
        foreach (var persistent in writes.SelectMany(write => (IImmutableList<IPersistentRepresentation>)write.Payload))
        {
            var success = await probe.ExpectMsgAsync<WriteMessageSuccess>(Patience);
            Assert.Equal(persistent.PersistenceId, success.Persistent.PersistenceId);
            Assert.Equal(persistent.SequenceNr, success.Persistent.SequenceNr);
        }
    }

    private async Task DeleteToAsync(long toSequenceNr)
    {
        var probe = CreateTestProbe();
        Journal.Tell(new DeleteMessagesTo(Pid, toSequenceNr, probe.Ref));
        await probe.ExpectMsgAsync<DeleteMessagesSuccess>(m => m.ToSequenceNr == toSequenceNr, Patience);
    }

    private Task<List<IPersistentRepresentation>> ReplayAsync(long from, long to, long max, long expectedHighest,
        string persistenceId = Pid) =>
        ReplayAsync(Sys, from, to, max, expectedHighest, persistenceId);

    /// <summary>Replays, collects what comes back until RecoverySuccess, and checks its highest sequence number.</summary>
    private async Task<List<IPersistentRepresentation>> ReplayAsync(ActorSystem system, long from, long to, long max,
        long expectedHighest, string persistenceId = Pid)
    {
        var probe = CreateTestProbe(system);
        AkkaPersistence.Instance.Apply(system).JournalFor(null).Tell(new ReplayMessages(from, to, max, persistenceId, probe.Ref));
        var replayed = new List<IPersistentRepresentation>();
        while (true)
        {
            switch (await probe.ReceiveOneAsync(Patience))
            {
                case ReplayedMessage message:
                    Assert.Equal(persistenceId, message.Persistent.PersistenceId);
                    Assert.False(message.Persistent.IsDeleted);
                    replayed.Add(message.Persistent);
                    break;
                case RecoverySuccess success:
                    Assert.Equal(expectedHighest, success.HighestSequenceNr);
                    return replayed;
                case var other:
                    Assert.Fail($"expected a replayed message or RecoverySuccess, got {other?.ToString() ?? "nothing"}");
                    break;
            }
        }
    }

    /// <summary>Checks the sequence numbers and the TCK's "a-N" payloads of a replay.</summary>
    private void AssertReplayed(long[] expectedSequenceNrs, List<IPersistentRepresentation> replayed)
    {
        Assert.Equal(expectedSequenceNrs, replayed.Select(p => p.SequenceNr));
        Assert.All(replayed, p =>
        {
            Assert.Equal($"a-{p.SequenceNr}", p.Payload);
            Assert.Equal(_writerGuid, p.WriterGuid);
        });
    }
}
