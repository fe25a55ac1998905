using ClusterNode.Actors.Watermarks;
using Xunit;
using static ClusterNode.Actors.Watermarks.Watermark;

namespace ClusterNode.Tests.Streams;

/// <summary>
/// The follower's positions as scenarios: committed, durable, the persisted cursor and the receipt, through blobs,
/// new subscriptions and copies. Whatever happens, the cursor persisted never passes a blob still due.
/// </summary>
public sealed class PeerCursorSpec
{
    [Fact]
    public void The_cursor_is_persisted_only_up_to_durable_and_one_write_at_a_time()
    {
        var cursor = new PeerCursor(persistedCursor: 10);
        cursor.BeginEpoch(1);
        cursor.Handle(new Committed(1, 11, []));
        cursor.Handle(new Committed(1, 12, ["a"]));
        cursor.Handle(new Committed(1, 13, []));

        Assert.Equal(new CursorStore.Advance(11), cursor.TakePersist());
        Assert.Null(cursor.TakePersist()); // one in flight
        cursor.Persisted(11);
        Assert.Null(cursor.TakePersist()); // nothing newer is durable

        cursor.Handle(new BlobDurable(1, 12, "a"));
        Assert.Equal(new CursorStore.Advance(13), cursor.TakePersist());
        Assert.Equal(new Advanced(1, 13, 13), cursor.TakeAdvanced());
    }

    [Fact]
    public void A_frame_committed_at_once_holds_the_cursor_below_its_first_record_still_waiting_for_a_blob()
    {
        var cursor = new PeerCursor(persistedCursor: 10);
        cursor.BeginEpoch(1);

        // Sequences 11..500 in one frame; 120 and 300 wait for blobs.
        Assert.True(cursor.Handle(new FrameCommitted(1, 500, [new Committed(1, 120, ["a"]), new Committed(1, 300, ["b"])])));

        Assert.Equal((500L, 119L), (cursor.Committed, cursor.Durable));
        Assert.Equal(new CursorStore.Advance(119), cursor.TakePersist());
        cursor.Persisted(119);
        cursor.Handle(new BlobDurable(1, 120, "a"));
        Assert.Equal(299, cursor.Durable);
        cursor.Handle(new BlobDurable(1, 300, "b"));
        Assert.Equal(500, cursor.Durable);
        // The same frame again (a duplicate report) changes nothing.
        Assert.False(cursor.Handle(new FrameCommitted(1, 500, [])));
    }

    [Fact]
    public void A_new_subscription_resumes_from_durable_and_ignores_reports_of_the_old_one()
    {
        var cursor = new PeerCursor(5);
        cursor.BeginEpoch(1);
        cursor.Handle(new Committed(1, 6, ["a"]));
        cursor.Handle(new Committed(1, 7, []));
        cursor.Handle(new BlobFailed(1, 6, "a", "disk full"));

        var resume = cursor.BeginEpoch(2);

        Assert.Equal(new ResumeFrom(2, 5), resume);
        Assert.Null(cursor.BeginEpoch(2)); // a repeated ask changes nothing
        Assert.False(cursor.Handle(new BlobDurable(1, 6, "a")));
        Assert.False(cursor.Handle(new Committed(1, 8, [])));
        Assert.Equal(5, cursor.Durable);
    }

    [Fact]
    public void During_a_copy_the_cursor_stays_and_the_receipt_claims_nothing_of_the_copy_until_every_copied_blob_is_durable()
    {
        var cursor = new PeerCursor(3);
        cursor.BeginEpoch(1);
        cursor.Handle(new CopyBegan(1, 100));
        cursor.Handle(new CopyCommitted(1, 1, [1], []));
        cursor.Handle(new CopyCommitted(1, 2, [2], ["blob"]));
        cursor.Handle(new CopyDone(1, 2));
        cursor.Handle(new Committed(1, 101, [])); // the log goes on from the copy's start

        var copyProgress = Assert.IsType<CursorStore.AdvanceCopy>(cursor.TakePersist());
        Assert.Equal(100, copyProgress.CopyStart);
        Assert.Equal([1], copyProgress.AfterKey);
        cursor.CopyPersisted([1]);
        Assert.Equal(3, cursor.Durable);
        Assert.Equal(new Advanced(1, 101, 3), cursor.TakeAdvanced());
        Assert.False(cursor.SettleCopy());

        cursor.Handle(new BlobDurable(1, 2, "blob", InCopy: true));
        Assert.True(cursor.SettleCopy());
        Assert.Equal(101, cursor.Durable);
        Assert.Equal(new CursorStore.Advance(101), cursor.TakePersist());
    }

    [Fact]
    public void A_copy_interrupted_resumes_after_its_durable_key_and_the_cursor_where_it_was()
    {
        var cursor = new PeerCursor(3, copyStart: 100, copyAfterKey: [9]);

        Assert.Equal(new ResumeFrom(1, 3, 100, [9]), cursor.BeginEpoch(1), new ResumeComparer());
    }

    private sealed class ResumeComparer : IEqualityComparer<ResumeFrom?>
    {
        public bool Equals(ResumeFrom? x, ResumeFrom? y) =>
            x is not null && y is not null && (x.Epoch, x.Sequence, x.CopyStart) == (y.Epoch, y.Sequence, y.CopyStart) &&
            (x.CopyAfterKey ?? []).SequenceEqual(y.CopyAfterKey ?? []);

        public int GetHashCode(ResumeFrom? obj) => obj?.Sequence.GetHashCode() ?? 0;
    }
}
