using Akka.Actor;
using Akka.Persistence;
using Akka.TestKit;
using ClusterNode.Persistence.Snapshot;
using Xunit;
using Xunit.Abstractions;
using static ClusterNode.Persistence.Tests.LmdbJournalSpecSupport;
using AkkaPersistence = Akka.Persistence.Persistence;

namespace ClusterNode.Persistence.Tests;

/// <summary>
/// The cases of Akka.Persistence.TCK's SnapshotStoreSpec (which is not available here), driven through the
/// snapshot protocol against <see cref="LmdbSnapshotStore"/>, plus lower bounds, neighbouring persistence ids and a
/// restart on the same directory. Snapshots s-1 to s-5 sit at sequence numbers 11 to 15, one minute apart.
/// </summary>
public sealed class LmdbSnapshotStoreSpec : Akka.TestKit.Xunit2.TestKit
{
    private const string Pid = "p-1";
    private static readonly DateTime FirstTimestamp = new(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc);

    private readonly string _directory;
    private readonly TestProbe _sender;

    public LmdbSnapshotStoreSpec(ITestOutputHelper output) : this(NewDirectory(), output)
    {
    }

    private LmdbSnapshotStoreSpec(string directory, ITestOutputHelper output)
        : base(ConfigFor(directory), nameof(LmdbSnapshotStoreSpec), output)
    {
        _directory = directory;
        _sender = CreateTestProbe();
    }

    private IActorRef SnapshotStore => AkkaPersistence.Instance.Apply(Sys).SnapshotStoreFor(null);

    [Fact]
    public async Task SnapshotStore_must_not_load_a_snapshot_given_an_invalid_persistence_id()
    {
        await SaveFiveSnapshotsAsync();
        Assert.Null(await LoadAsync("invalid", SnapshotSelectionCriteria.Latest));
    }

    [Fact]
    public async Task SnapshotStore_must_not_load_a_snapshot_when_none_was_saved()
    {
        Assert.Null(await LoadAsync(Pid, SnapshotSelectionCriteria.Latest));
    }

    [Fact]
    public async Task SnapshotStore_must_not_load_a_snapshot_given_non_matching_timestamp_criteria()
    {
        await SaveFiveSnapshotsAsync();
        Assert.Null(await LoadAsync(Pid, new SnapshotSelectionCriteria(long.MaxValue, new DateTime(100000))));
    }

    [Fact]
    public async Task SnapshotStore_must_not_load_a_snapshot_given_non_matching_sequence_number_criteria()
    {
        await SaveFiveSnapshotsAsync();
        Assert.Null(await LoadAsync(Pid, new SnapshotSelectionCriteria(7)));
        Assert.Null(await LoadAsync(Pid, SnapshotSelectionCriteria.Latest, toSequenceNr: 7));
    }

    [Fact]
    public async Task SnapshotStore_must_load_the_most_recent_snapshot()
    {
        var saved = await SaveFiveSnapshotsAsync();
        AssertSnapshot(saved[4], "s-5", await LoadAsync(Pid, SnapshotSelectionCriteria.Latest));
    }

    [Fact]
    public async Task SnapshotStore_must_load_the_most_recent_snapshot_matching_an_upper_sequence_number_bound()
    {
        var saved = await SaveFiveSnapshotsAsync();
        AssertSnapshot(saved[2], "s-3", await LoadAsync(Pid, new SnapshotSelectionCriteria(13)));
        AssertSnapshot(saved[2], "s-3", await LoadAsync(Pid, SnapshotSelectionCriteria.Latest, toSequenceNr: 13));
        // A bound between two snapshots selects the one below it.
        AssertSnapshot(saved[0], "s-1", await LoadAsync(Pid, new SnapshotSelectionCriteria(11)));
    }

    [Fact]
    public async Task SnapshotStore_must_load_the_most_recent_snapshot_matching_an_upper_timestamp_bound()
    {
        var saved = await SaveFiveSnapshotsAsync();
        AssertSnapshot(saved[2], "s-3", await LoadAsync(Pid, new SnapshotSelectionCriteria(long.MaxValue, saved[2].Timestamp)));
        AssertSnapshot(saved[2], "s-3", await LoadAsync(Pid, new SnapshotSelectionCriteria(13, saved[2].Timestamp)));
        AssertSnapshot(saved[2], "s-3", await LoadAsync(Pid, new SnapshotSelectionCriteria(long.MaxValue, saved[2].Timestamp), toSequenceNr: 13));
        // One tick before s-3 was taken, s-2 is the youngest.
        AssertSnapshot(saved[1], "s-2", await LoadAsync(Pid, new SnapshotSelectionCriteria(long.MaxValue, saved[2].Timestamp.AddTicks(-1))));
    }

    [Fact]
    public async Task SnapshotStore_must_honour_lower_sequence_number_and_timestamp_bounds()
    {
        var saved = await SaveFiveSnapshotsAsync();
        AssertSnapshot(saved[3], "s-4", await LoadAsync(Pid, new SnapshotSelectionCriteria(14, DateTime.MaxValue, minSequenceNr: 14, minTimestamp: null)));
        Assert.Null(await LoadAsync(Pid, new SnapshotSelectionCriteria(13, DateTime.MaxValue, minSequenceNr: 14, minTimestamp: null)));
        Assert.Null(await LoadAsync(Pid, new SnapshotSelectionCriteria(13, DateTime.MaxValue, minSequenceNr: 0, minTimestamp: saved[3].Timestamp)));
        AssertSnapshot(saved[3], "s-4", await LoadAsync(Pid, new SnapshotSelectionCriteria(14, DateTime.MaxValue, minSequenceNr: 0, minTimestamp: saved[3].Timestamp)));
    }

    [Fact]
    public async Task SnapshotStore_must_keep_persistence_ids_that_share_a_prefix_apart()
    {
        // "p-1" is a prefix of "p-10": their keys are neighbours in LMDB's order, on both sides of a search.
        await SaveAsync(new SnapshotMetadata("p-10", 1, FirstTimestamp), "other-1");
        await SaveAsync(new SnapshotMetadata("p-10", 100, FirstTimestamp), "other-100");
        var saved = await SaveFiveSnapshotsAsync();

        AssertSnapshot(saved[4], "s-5", await LoadAsync(Pid, SnapshotSelectionCriteria.Latest));
        Assert.Null(await LoadAsync(Pid, new SnapshotSelectionCriteria(10)));
        Assert.Equal("other-1", (await LoadAsync("p-10", new SnapshotSelectionCriteria(50)))?.Snapshot);

        await DeleteAsync(new DeleteSnapshots(Pid, SnapshotSelectionCriteria.Latest));
        Assert.Null(await LoadAsync(Pid, SnapshotSelectionCriteria.Latest));
        Assert.Equal("other-100", (await LoadAsync("p-10", SnapshotSelectionCriteria.Latest))?.Snapshot);
    }

    [Fact]
    public async Task SnapshotStore_must_delete_a_single_snapshot_identified_by_sequence_number_in_metadata()
    {
        var saved = await SaveFiveSnapshotsAsync();
        var command = new DeleteSnapshot(new SnapshotMetadata(Pid, saved[2].SequenceNr, saved[2].Timestamp));
        var subscriber = CreateTestProbe();
        Sys.EventStream.Subscribe(subscriber.Ref, typeof(DeleteSnapshot));

        SnapshotStore.Tell(command, _sender.Ref);
        await subscriber.ExpectMsgAsync(command, Patience);
        await _sender.ExpectMsgAsync<DeleteSnapshotSuccess>(Patience);

        AssertSnapshot(saved[1], "s-2", await LoadAsync(Pid, new SnapshotSelectionCriteria(saved[2].SequenceNr)));
        AssertSnapshot(saved[4], "s-5", await LoadAsync(Pid, SnapshotSelectionCriteria.Latest));
    }

    [Fact]
    public async Task SnapshotStore_must_delete_a_single_snapshot_whose_metadata_has_no_timestamp()
    {
        var saved = await SaveFiveSnapshotsAsync();
        // DateTime.MinValue is Akka's "timestamp not specified", as Eventsourced.DeleteSnapshot(sequenceNr) sends it.
        await DeleteAsync(new DeleteSnapshot(new SnapshotMetadata(Pid, saved[2].SequenceNr, DateTime.MinValue)));
        AssertSnapshot(saved[1], "s-2", await LoadAsync(Pid, new SnapshotSelectionCriteria(saved[2].SequenceNr)));
    }

    [Fact]
    public async Task SnapshotStore_must_not_delete_a_snapshot_younger_than_the_metadata_timestamp()
    {
        var saved = await SaveFiveSnapshotsAsync();
        await DeleteAsync(new DeleteSnapshot(new SnapshotMetadata(Pid, saved[2].SequenceNr, saved[2].Timestamp.AddSeconds(-2))));
        AssertSnapshot(saved[2], "s-3", await LoadAsync(Pid, new SnapshotSelectionCriteria(saved[2].SequenceNr)));
    }

    [Fact]
    public async Task SnapshotStore_must_delete_all_snapshots_matching_upper_sequence_number_and_timestamp_bounds()
    {
        var saved = await SaveFiveSnapshotsAsync();
        var command = new DeleteSnapshots(Pid, new SnapshotSelectionCriteria(saved[2].SequenceNr, saved[2].Timestamp));
        var subscriber = CreateTestProbe();
        Sys.EventStream.Subscribe(subscriber.Ref, typeof(DeleteSnapshots));

        SnapshotStore.Tell(command, _sender.Ref);
        await subscriber.ExpectMsgAsync(command, Patience);
        await _sender.ExpectMsgAsync<DeleteSnapshotsSuccess>(Patience);

        Assert.Null(await LoadAsync(Pid, new SnapshotSelectionCriteria(saved[2].SequenceNr, saved[2].Timestamp)));
        AssertSnapshot(saved[3], "s-4", await LoadAsync(Pid, new SnapshotSelectionCriteria(saved[3].SequenceNr, saved[3].Timestamp)));
    }

    [Fact]
    public async Task SnapshotStore_must_delete_only_snapshots_within_lower_bounds()
    {
        var saved = await SaveFiveSnapshotsAsync();
        await DeleteAsync(new DeleteSnapshots(Pid, new SnapshotSelectionCriteria(14, DateTime.MaxValue, minSequenceNr: 12, minTimestamp: saved[2].Timestamp)));

        AssertSnapshot(saved[4], "s-5", await LoadAsync(Pid, SnapshotSelectionCriteria.Latest));
        AssertSnapshot(saved[1], "s-2", await LoadAsync(Pid, new SnapshotSelectionCriteria(14)));
    }

    [Fact]
    public async Task SnapshotStore_must_not_delete_snapshots_with_non_matching_upper_timestamp_bounds()
    {
        var saved = await SaveFiveSnapshotsAsync();
        var criteria = new SnapshotSelectionCriteria(saved[3].SequenceNr, saved[3].Timestamp.AddTicks(-1));
        SnapshotStore.Tell(new DeleteSnapshots(Pid, criteria), _sender.Ref);
        await _sender.ExpectMsgAsync<DeleteSnapshotsSuccess>(m => m.Criteria.Equals(criteria), Patience);

        AssertSnapshot(saved[3], "s-4", await LoadAsync(Pid, new SnapshotSelectionCriteria(saved[3].SequenceNr, saved[3].Timestamp)));
    }

    [Fact]
    public async Task SnapshotStore_must_save_and_overwrite_snapshot_with_same_sequence_number()
    {
        var saved = await SaveFiveSnapshotsAsync();
        var again = await SaveAsync(saved[4], "s-5-modified");
        Assert.Equal(saved[4].SequenceNr, again.SequenceNr);

        var loaded = await LoadAsync(Pid, new SnapshotSelectionCriteria(saved[4].SequenceNr));
        Assert.Equal("s-5-modified", loaded?.Snapshot);
        Assert.Equal(saved[4].SequenceNr, loaded?.Metadata.SequenceNr);
    }

    [Fact]
    public async Task SnapshotStore_must_save_and_load_a_bigger_snapshot()
    {
        var big = new byte[3 << 20];
        new Random(42).NextBytes(big);
        var metadata = await SaveAsync(new SnapshotMetadata(Pid, 100, FirstTimestamp), big);

        var loaded = await LoadAsync(Pid, SnapshotSelectionCriteria.Latest);
        Assert.Equal(metadata, loaded?.Metadata);
        Assert.Equal(big, loaded?.Snapshot);
    }

    [Fact]
    public async Task SnapshotStore_must_serialize_snapshots_with_their_serializer_and_manifest()
    {
        await SaveAsync(new SnapshotMetadata(Pid, 1, FirstTimestamp), new LmdbJournalSpecSupport.Celsius(-5));
        await SaveAsync(new SnapshotMetadata(Pid, 2, FirstTimestamp), new LmdbJournalSpecSupport.Fahrenheit(23));

        Assert.Equal(new LmdbJournalSpecSupport.Celsius(-5), (await LoadAsync(Pid, new SnapshotSelectionCriteria(1)))?.Snapshot);
        Assert.Equal(new LmdbJournalSpecSupport.Fahrenheit(23), (await LoadAsync(Pid, SnapshotSelectionCriteria.Latest))?.Snapshot);
    }

    [Fact]
    public async Task SnapshotStore_must_fail_a_save_that_cannot_be_serialized_and_keep_the_earlier_snapshot()
    {
        var saved = await SaveFiveSnapshotsAsync();
        var metadata = new SnapshotMetadata(Pid, 20, FirstTimestamp.AddHours(1));
        SnapshotStore.Tell(new SaveSnapshot(metadata, new LmdbJournalSpecSupport.Unserializable("snapshot")), _sender.Ref);
        await _sender.ExpectMsgAsync<SaveSnapshotFailure>(m => m.Metadata.SequenceNr == 20, Patience);

        AssertSnapshot(saved[4], "s-5", await LoadAsync(Pid, SnapshotSelectionCriteria.Latest));
    }

    [Fact]
    public async Task SnapshotStore_must_recover_snapshots_in_a_new_actor_system_on_the_same_directory()
    {
        var saved = await SaveFiveSnapshotsAsync();
        await DeleteAsync(new DeleteSnapshot(saved[4]));
        await ShutdownAsync(verifySystemShutdown: true);

        var restarted = StartSystem("restarted", _directory);
        try
        {
            var store = AkkaPersistence.Instance.Apply(restarted).SnapshotStoreFor(null);
            var probe = CreateTestProbe(restarted);
            store.Tell(new LoadSnapshot(Pid, SnapshotSelectionCriteria.Latest, long.MaxValue), probe.Ref);
            var result = await probe.ExpectMsgAsync<LoadSnapshotResult>(Patience);
            AssertSnapshot(saved[3], "s-4", result.Snapshot);
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

    private async Task<List<SnapshotMetadata>> SaveFiveSnapshotsAsync()
    {
        var saved = new List<SnapshotMetadata>();
        for (var i = 1; i <= 5; i++)
            saved.Add(await SaveAsync(new SnapshotMetadata(Pid, 10 + i, FirstTimestamp.AddMinutes(i)), $"s-{i}"));
        return saved;
    }

    private async Task<SnapshotMetadata> SaveAsync(SnapshotMetadata metadata, object snapshot)
    {
        SnapshotStore.Tell(new SaveSnapshot(metadata, snapshot), _sender.Ref);
        return (await _sender.ExpectMsgAsync<SaveSnapshotSuccess>(Patience)).Metadata;
    }

    private async Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria,
        long toSequenceNr = long.MaxValue)
    {
        SnapshotStore.Tell(new LoadSnapshot(persistenceId, criteria, toSequenceNr), _sender.Ref);
        var result = await _sender.ExpectMsgAsync<LoadSnapshotResult>(Patience);
        Assert.Equal(toSequenceNr, result.ToSequenceNr);
        return result.Snapshot;
    }

    private async Task DeleteAsync(ISnapshotRequest command)
    {
        SnapshotStore.Tell(command, _sender.Ref);
        var reply = await _sender.ReceiveOneAsync(Patience);
        Assert.True(reply is DeleteSnapshotSuccess or DeleteSnapshotsSuccess, $"expected a delete success, got {reply}");
    }

    private static void AssertSnapshot(SnapshotMetadata expected, string expectedSnapshot, SelectedSnapshot? loaded)
    {
        Assert.NotNull(loaded);
        Assert.Equal(expected, loaded.Metadata);
        Assert.Equal(expected.Timestamp, loaded.Metadata.Timestamp);
        Assert.Equal(expectedSnapshot, loaded.Snapshot);
    }
}
