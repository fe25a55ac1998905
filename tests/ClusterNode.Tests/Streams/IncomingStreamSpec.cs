using ClusterNode.Actors.Replication;
using ClusterNode.Actors.Streams;
using ClusterNode.Actors.Watermarks;
using ClusterNode.Persistence.Binary;
using Xunit;
using static ClusterNode.Tests.Streams.StreamScenarioData;

namespace ClusterNode.Tests.Streams;

/// <summary>
/// The rules of an incoming stream as scenarios: what a follower does with each message, and above all that nothing
/// which does not continue exactly where it is gets applied (Akka.Remote loses messages while an address is gated).
/// </summary>
public sealed class IncomingStreamSpec
{
    private const int MaxPayload = 1 << 20;
    private const int MaxChunk = 64 * 1024;

    [Fact]
    public void A_frame_that_continues_where_the_follower_is_is_applied_and_its_blobs_are_due_next()
    {
        var blob = Blob("aa00000000000000000000000000000a", 100);
        var stream = IncomingStream.Begin(epoch: 7, committed: 10);

        var accepted = Assert.IsType<FrameAccepted>(stream.Check(Frame(7, 10, 13, (11, Record("a")), (12, Record("b", blobs: blob))), MaxPayload));
        var applied = stream.Applied(accepted, [[], [blob.FileId]], costBytes: 500);

        Assert.Equal(13, applied.Next.Committed);
        Assert.True(blob.SameContentAs(Assert.Single(applied.Next.DueBlobs).Blob));
        Assert.Equal(500, applied.Next.HandledBytes);
        // One message for the frame: committed up to 13 (entry 13 carried nothing for this follower), and record 12
        // waits for its blob.
        var committed = Assert.IsType<Watermark.FrameCommitted>(Assert.Single(applied.ToWatermark));
        Assert.Equal((7, 13), (committed.Epoch, committed.UpToSequence));
        Assert.Equal([new Watermark.Committed(7, 12, [blob.FileId])], committed.WithBlobs, new CommittedComparer());
    }

    [Fact]
    public void A_frame_of_many_records_tells_the_watermark_once_with_its_exact_range()
    {
        var records = Enumerable.Range(0, 2_000).Select(i => (Sequence: 101L + i, Record: Record($"r{i}"))).ToArray();
        var stream = IncomingStream.Begin(epoch: 3, committed: 100);

        var accepted = Assert.IsType<FrameAccepted>(stream.Check(Frame(3, 100, 2_100, records), MaxPayload));
        var applied = stream.Applied(accepted, records.Select(_ => (IReadOnlyCollection<string>)[]).ToArray(), costBytes: 1);

        var committed = Assert.IsType<Watermark.FrameCommitted>(Assert.Single(applied.ToWatermark));
        Assert.Equal(2_100, committed.UpToSequence);
        Assert.Empty(committed.WithBlobs);
        // What the watermark makes of it: everything up to the frame's end is committed and durable, nothing beyond.
        var cursor = new PeerCursor(100);
        cursor.BeginEpoch(3);
        Assert.True(cursor.Handle(committed));
        Assert.Equal((2_100L, 2_100L), (cursor.Committed, cursor.Durable));
    }

    [Fact]
    public void Frames_that_arrived_together_are_accepted_as_one_group_when_each_continues_the_one_before()
    {
        var stream = IncomingStream.Begin(epoch: 2, committed: 10);
        object[] frames = [Frame(2, 10, 12, (11, Record("a")), (12, Record("b"))), Frame(2, 12, 14, (14, Record("c"))), Frame(2, 14, 14)];

        var (accepted, refused) = stream.CheckGroup(frames, MaxPayload);

        Assert.Null(refused);
        Assert.Equal([12L, 14L, 14L], accepted.Select(f => f.UpToSequence));
        // Applied in order after the one commit, the watermark learns each frame's range, nothing beyond the last.
        var cursor = new PeerCursor(10);
        cursor.BeginEpoch(2);
        foreach (var frame in accepted)
        {
            var applied = stream.Applied(frame, frame.Records.Select(_ => (IReadOnlyCollection<string>)[]).ToArray(), costBytes: 1);
            stream = applied.Next;
            foreach (var command in applied.ToWatermark) cursor.Handle(command);
        }
        Assert.Equal((14L, 14L, 3L), (cursor.Committed, cursor.Durable, stream.HandledBytes));
    }

    [Fact]
    public void A_group_stops_at_a_frame_that_does_not_continue_and_the_frames_before_it_stay_accepted()
    {
        var stream = IncomingStream.Begin(epoch: 2, committed: 10);
        object[] frames = [Frame(2, 10, 12, (12, Record("a"))), Frame(2, 13, 15, (15, Record("lost-one-before"))), Frame(2, 15, 16, (16, Record("c")))];

        var (accepted, refused) = stream.CheckGroup(frames, MaxPayload);

        Assert.Equal(12, Assert.Single(accepted).UpToSequence);
        Assert.True(refused!.LostInTransit);
        Assert.Contains("frame after 13 does not continue where this follower is (12)", refused.Reason);
    }

    [Fact]
    public void A_frame_after_one_whose_chunks_are_due_never_shares_its_transaction()
    {
        var blob = Blob("aa00000000000000000000000000000b", 100);
        var stream = IncomingStream.Begin(epoch: 2, committed: 10);
        // The chunks of blob at 11 were lost: the next frame arrived right behind its own.
        object[] frames = [Frame(2, 10, 11, (11, Record("a", blobs: blob))), Frame(2, 11, 12, (12, Record("b")))];

        var (accepted, refused) = stream.CheckGroup(frames, MaxPayload);

        Assert.Equal(11, Assert.Single(accepted).UpToSequence);
        Assert.True(refused!.LostInTransit);
        var cursor = new PeerCursor(10);
        cursor.BeginEpoch(2);
        foreach (var command in stream.Applied(accepted[0], [[blob.FileId]], costBytes: 1).ToWatermark) cursor.Handle(command);
        Assert.Equal((11L, 10L), (cursor.Committed, cursor.Durable));
    }

    [Fact]
    public void Under_a_grouped_commit_the_cursor_never_passes_a_blob_of_the_first_frame_until_it_is_durable()
    {
        var blob = Blob("aa00000000000000000000000000000c", 100);
        var stream = IncomingStream.Begin(epoch: 4, committed: 20);
        // The sender lacked the blob too (no chunks follow), so the frames behind it arrive at once and share one commit.
        var first = new ByteWriter(256);
        RecordFrameCodec.Append(first, 21, Record("a", blobs: blob), [blob.FileId]);
        RecordFrameCodec.Append(first, 22, Record("b"));
        object[] frames = [new RecordFrame(4, 20, 22, 2, first.ToArray()), Frame(4, 22, 25, (24, Record("c"))), Frame(4, 25, 30, (30, Record("d")))];

        var (accepted, refused) = stream.CheckGroup(frames, MaxPayload);
        Assert.Null(refused);
        Assert.Equal(3, accepted.Count);

        var awaited = new List<AwaitedBlob>();
        var commands = new List<Watermark.ICommand>();
        IReadOnlyCollection<string>[][] lacking = [[[blob.FileId], []], [[]], [[]]];
        for (var f = 0; f < accepted.Count; f++)
        {
            var applied = stream.Applied(accepted[f], lacking[f], costBytes: 1);
            stream = applied.Next;
            awaited.AddRange(applied.Awaited);
            commands.AddRange(applied.ToWatermark);
        }
        Assert.Equal(21, Assert.Single(awaited).Position);

        // Committed to the group's end; durable stays below the record whose blob is awaited, however far the log goes,
        // and moves to the group's end once the blob is durable.
        var cursor = AfterGroup();
        Assert.Equal((30L, 20L), (cursor.Committed, cursor.Durable));
        cursor.Handle(new Watermark.BlobDurable(4, 21, blob.FileId));
        Assert.Equal(30, cursor.Durable);

        // A save of it that fails holds the cursor there: the next subscription resumes from before the blob's record.
        var failed = AfterGroup();
        failed.Handle(new Watermark.BlobFailed(4, 21, blob.FileId, "disk full"));
        Assert.Equal(new Watermark.ResumeFrom(5, 20), failed.BeginEpoch(5));

        PeerCursor AfterGroup()
        {
            var c = new PeerCursor(20);
            c.BeginEpoch(4);
            foreach (var command in commands) c.Handle(command);
            return c;
        }
    }

    [Fact]
    public void A_heartbeat_that_moves_nothing_tells_the_watermark_nothing()
    {
        var stream = IncomingStream.Begin(epoch: 1, committed: 10);

        var applied = stream.Applied(Assert.IsType<FrameAccepted>(stream.Check(Frame(1, 10, 10), MaxPayload)), [], costBytes: 0);

        Assert.Empty(applied.ToWatermark);
    }

    [Theory]
    [InlineData(12, "a frame after a lost one")]
    [InlineData(8, "a frame delivered twice, or late")]
    public void A_frame_that_does_not_continue_where_the_follower_is_is_refused_as_lost_in_transit(long after, string what)
    {
        var stream = IncomingStream.Begin(epoch: 1, committed: 10);

        var refused = Assert.IsType<FrameRefused>(stream.Check(Frame(1, after, after + 2, (after + 1, Record("a"))), MaxPayload));

        Assert.True(refused.LostInTransit, what);
        Assert.Contains($"frame after {after} does not continue where this follower is (10)", refused.Reason);
    }

    [Fact]
    public void A_heartbeat_after_a_lost_frame_reveals_the_gap()
    {
        var stream = IncomingStream.Begin(epoch: 1, committed: 10);

        // The frame up to 15 was lost; the sender's heartbeat says its log stands at 15.
        var refused = Assert.IsType<FrameRefused>(stream.Check(Frame(1, 15, 15), MaxPayload));

        Assert.True(refused.LostInTransit);
    }

    [Fact]
    public void A_frame_while_chunks_are_still_due_means_chunks_were_lost()
    {
        var blob = Blob("bb00000000000000000000000000000b", 100);
        var stream = Apply(IncomingStream.Begin(1, 0), Frame(1, 0, 1, (1, Record("a", blobs: blob))), [blob.FileId]);

        var refused = Assert.IsType<FrameRefused>(stream.Check(Frame(1, 1, 2, (2, Record("b"))), MaxPayload));

        Assert.True(refused.LostInTransit);
        Assert.Contains("chunks were lost in transit", refused.Reason);
    }

    [Fact]
    public void Chunks_must_come_in_order_and_fit_their_blob()
    {
        var blob = Blob("cc00000000000000000000000000000c", 100);
        var stream = Apply(IncomingStream.Begin(1, 0), Frame(1, 0, 1, (1, Record("a", blobs: blob))), [blob.FileId]);

        var first = Assert.IsType<ChunkAccepted>(stream.Check(Chunk(1, 1, blob, 0, 60), MaxChunk));
        Assert.True(first.Save);
        Assert.Equal(60, first.Next.DueBlobReceived);

        var skipped = Assert.IsType<ChunkRefused>(first.Next.Check(Chunk(1, 1, blob, 80, 20), MaxChunk));
        Assert.True(skipped.LostInTransit);
        var again = Assert.IsType<ChunkRefused>(first.Next.Check(Chunk(1, 1, blob, 0, 60), MaxChunk));
        Assert.True(again.LostInTransit);
        var tooLong = Assert.IsType<ChunkRefused>(first.Next.Check(new BlobChunk(1, 1, blob.FileId, 60, new byte[41]), MaxChunk));
        Assert.False(tooLong.LostInTransit);

        var last = Assert.IsType<ChunkAccepted>(first.Next.Check(Chunk(1, 1, blob, 60, 40), MaxChunk));
        Assert.Empty(last.Next.DueBlobs);
        Assert.IsType<ChunkRefused>(last.Next.Check(Chunk(1, 1, blob, 60, 40), MaxChunk));
    }

    [Fact]
    public void A_blob_this_node_holds_is_streamed_but_only_credited_and_one_the_sender_lacks_is_awaited_elsewhere()
    {
        var held = Blob("dd00000000000000000000000000000d", 10);
        var stream = Apply(IncomingStream.Begin(1, 0), Frame(1, 0, 1, (1, Record("a", blobs: held))), []);
        Assert.False(Assert.IsType<ChunkAccepted>(stream.Check(Chunk(1, 1, held, 0, 10), MaxChunk)).Save);

        var lacking = Blob("ee00000000000000000000000000000e", 10);
        var payload = new Persistence.Binary.ByteWriter(256);
        RecordFrameCodec.Append(payload, 1, Record("b", blobs: lacking), [lacking.FileId]);
        var accepted = Assert.IsType<FrameAccepted>(IncomingStream.Begin(1, 0).Check(new RecordFrame(1, 0, 1, 1, payload.ToArray()), MaxPayload));
        var applied = IncomingStream.Begin(1, 0).Applied(accepted, [[lacking.FileId]], 100);

        Assert.Empty(applied.Next.DueBlobs);
        Assert.True(lacking.SameContentAs(Assert.Single(applied.Awaited).Blob));
    }

    [Fact]
    public void A_copy_continues_position_by_position_and_hands_over_to_the_log_at_its_start()
    {
        var stream = IncomingStream.Begin(epoch: 3, committed: 0);

        var first = Assert.IsType<FrameAccepted>(stream.Check(CopyFrame(3, copyStart: 500, afterPosition: 0, done: false, (1, Record("a")), (2, Record("b"))), MaxPayload));
        var copying = stream.Applied(first, [[], []], 100);
        Assert.Equal(new CopyProgress(500, 2), copying.Next.Copy);
        Assert.IsType<Watermark.CopyBegan>(copying.ToWatermark[0]);
        // The frame's records go to the watermark in one message, each at its copy position with its key.
        var copied = Assert.IsType<Watermark.CopyFrameCommitted>(copying.ToWatermark[1]);
        Assert.Equal([1L, 2L], copied.Records.Select(r => r.Position));
        Assert.Equal(Persistence.Records.RecordCodec.Key("t", "b"), copied.Records[1].Key);

        var lost = Assert.IsType<FrameRefused>(copying.Next.Check(CopyFrame(3, 500, afterPosition: 3, done: false, (4, Record("d"))), MaxPayload));
        Assert.True(lost.LostInTransit);
        var logTooSoon = Assert.IsType<FrameRefused>(copying.Next.Check(Frame(3, 0, 1, (1, Record("x"))), MaxPayload));
        Assert.True(logTooSoon.LostInTransit);

        var last = Assert.IsType<FrameAccepted>(copying.Next.Check(CopyFrame(3, 500, afterPosition: 2, done: true, (3, Record("c"))), MaxPayload));
        var done = copying.Next.Applied(last, [[]], 100);
        Assert.Null(done.Next.Copy);
        Assert.Equal(500, done.Next.Committed);
        Assert.Equal(new Watermark.CopyDone(3, 3), done.ToWatermark[^1]);

        Assert.IsType<FrameAccepted>(done.Next.Check(Frame(3, 500, 501, (501, Record("e"))), MaxPayload));
        var secondCopy = Assert.IsType<FrameRefused>(done.Next.Check(CopyFrame(3, 600, 0, true), MaxPayload));
        Assert.False(secondCopy.LostInTransit);
    }

    [Fact]
    public void A_malformed_or_oversized_frame_is_refused_as_bad_input_naming_what_is_wrong()
    {
        var stream = IncomingStream.Begin(1, 10);

        var backwards = Assert.IsType<FrameRefused>(stream.Check(Frame(1, 10, 9), MaxPayload));
        Assert.False(backwards.LostInTransit);
        Assert.Contains("ends before it begins", backwards.Reason);

        var outside = Assert.IsType<FrameRefused>(stream.Check(Frame(1, 10, 11, (12, Record("a"))), MaxPayload));
        Assert.Contains("has sequence 12", outside.Reason);

        var big = Frame(1, 10, 11, (11, Record("a")));
        var oversized = Assert.IsType<FrameRefused>(stream.Check(big, big.Payload.Length - 1));
        Assert.Contains("over the limit", oversized.Reason);
    }

    private static IncomingStream Apply(IncomingStream stream, RecordFrame frame, string[] blobsToSave) =>
        stream.Applied(Assert.IsType<FrameAccepted>(stream.Check(frame, MaxPayload)), [blobsToSave], frame.CostBytes).Next;

    private sealed class CommittedComparer : IEqualityComparer<Watermark.Committed>
    {
        public bool Equals(Watermark.Committed? x, Watermark.Committed? y) =>
            x is not null && y is not null && (x.Epoch, x.Sequence) == (y.Epoch, y.Sequence) && x.BlobsToCome.SequenceEqual(y.BlobsToCome);

        public int GetHashCode(Watermark.Committed obj) => obj.Sequence.GetHashCode();
    }
}
