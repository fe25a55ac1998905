using Akka.Actor;
using ClusterNode.Actors.Replication;
using ClusterNode.Actors.Streams;
using ClusterNode.Persistence.Records;
using ClusterNode.Tests.Simulation;
using Xunit;
using static ClusterNode.Tests.Streams.StreamScenarioData;

namespace ClusterNode.Tests.Streams;

/// <summary>The rules of an outgoing stream as scenarios, over the in-memory store of the simulation.</summary>
public sealed class OutgoingStreamSpec
{
    private static readonly StreamLimits Limits = new(ChunkBytes: 64, FrameTargetBytes: 300, MaxFramePayloadBytes: 64 * 1024, WindowBytes: 1_000);

    [Fact]
    public void Frames_name_the_sequence_they_follow_and_skip_what_the_follower_wrote_or_what_was_replaced()
    {
        var source = Source(out _);
        source.WriteLocal("t", "a", (_, v) => Record("a", "me") with { Version = v });          // 1
        source.WriteLocal("t", "b", (_, v) => Record("b", "me") with { Version = v });          // 2, replaced by 4
        Apply(source, Record("c", origin: "follower"));                                         // 3: the follower's own
        source.WriteLocal("t", "b", (_, v) => Record("b", "me") with { Version = v });          // 4
        var stream = OutgoingStream.Begin(Subscription(fromSequence: 1), Limits, source.FirstRetainedSequence, source.LastSequence);

        var ready = Assert.IsType<FrameReady>(stream.BuildNext(source));

        var frame = Assert.IsType<RecordFrame>(ready.Frame);
        Assert.Equal((0L, 4L, 2), (frame.AfterSequence, frame.UpToSequence, frame.RecordCount));
        Assert.Equal(5, ready.Next.NextSequence);
        Assert.IsType<NothingToSend>(ready.Next.BuildNext(source));
        var (quiet, none) = ready.Next.OnHeartbeatTick(blobsPending: false);
        Assert.Null(none); // a frame went out since the last tick
        var heartbeat = Assert.IsType<RecordFrame>(quiet.OnHeartbeatTick(blobsPending: false).Heartbeat);
        Assert.Equal((4L, 4L, 0L), (heartbeat.AfterSequence, heartbeat.UpToSequence, heartbeat.CostBytes));
    }

    [Fact]
    public void The_window_bounds_bytes_in_flight_and_only_credit_of_this_epoch_frees_it_never_beyond_what_was_sent()
    {
        var stream = OutgoingStream.Begin(Subscription(1), Limits, 1, 0);

        var full = stream.Sent(900);
        Assert.False(full.HasRoomFor(200));
        Assert.Equal(900, full.Credited(new Credit(Epoch: 99, HandledBytes: 900)).InFlightBytes);
        var credited = full.Credited(new Credit(7, 600));
        Assert.Equal(300, credited.InFlightBytes);
        Assert.Equal(300, credited.Credited(new Credit(7, 100)).InFlightBytes); // a late, smaller credit
        Assert.Equal(0, credited.Credited(new Credit(7, 5_000)).InFlightBytes); // more than was sent
        Assert.True(OutgoingStream.Begin(Subscription(1), Limits, 1, 0).HasRoomFor(50_000)); // alone in an empty window
    }

    [Theory]
    [InlineData(50, 0, 40, 100, null)]      // the log reaches back to the follower: stream it
    [InlineData(10, 0, 40, 100, 100L)]      // the follower is behind the retention: copy everything as of now
    [InlineData(10, 60, 40, 100, 60L)]      // resume the follower's copy: the log still reaches its start
    [InlineData(10, 20, 40, 100, 100L)]     // the log no longer reaches the copy's start: a new copy
    public void The_copy_plan(long fromSequence, long copyStart, long firstRetained, long last, long? expectedCopyStart)
    {
        var subscription = Subscription(fromSequence) with { CopyStart = copyStart, CopyAfterKey = copyStart > 0 ? RecordCodec.Key("t", "m") : null };

        var copy = OutgoingStream.PlanCopy(subscription, firstRetained, last);

        Assert.Equal(expectedCopyStart, copy?.CopyStart);
        if (copy is not null && copyStart == expectedCopyStart) Assert.Equal(RecordCodec.Key("t", "m"), copy.AfterKey);
    }

    [Fact]
    public void A_copy_numbers_its_records_from_one_and_its_last_frame_hands_over_to_the_log()
    {
        var source = Source(out _);
        foreach (var id in new[] { "a", "b", "c" }) source.WriteLocal("t", id, (_, v) => Record(id, "me") with { Version = v });
        var stream = OutgoingStream.Begin(Subscription(1) with { CopyStart = 0 }, Limits, firstRetainedSequence: 3, lastSequence: 3);
        Assert.Equal(3, stream.Copy!.CopyStart);

        var ready = Assert.IsType<FrameReady>(stream.BuildNext(source));

        var frame = Assert.IsType<CopyFrame>(ready.Frame);
        Assert.Equal((3L, 0L, 3, true), (frame.CopyStart, frame.AfterPosition, frame.RecordCount, frame.Done));
        Assert.Null(ready.Next.Copy);
        Assert.Equal(4, ready.Next.NextSequence);
    }

    [Fact]
    public void A_log_trimmed_past_what_the_follower_needs_ends_the_stream()
    {
        var source = Source(out _, retention: 2);
        foreach (var id in new[] { "a", "b", "c", "d" }) source.WriteLocal("t", id, (_, v) => Record(id, "me") with { Version = v });
        var stream = OutgoingStream.Begin(Subscription(2), Limits, firstRetainedSequence: 1, lastSequence: 4); // planned before the trim

        Assert.Equal(new LogTrimmed(2, 3), stream.BuildNext(source));
    }

    [Fact]
    public void A_blob_goes_as_chunks_after_its_frame_and_one_this_node_lacks_is_marked_unavailable()
    {
        var source = Source(out _);
        var held = Blob("ab00000000000000000000000000000a", 150);
        source.PlaceDurable(held.FileId, Bytes(held.FileId, 150));
        source.WriteLocal("t", "a", (_, v) => Record("a", "me", held) with { Version = v });
        Apply(source, Record("b", "other", Blob("ab00000000000000000000000000000b", 10))); // forwarded before its bytes came
        var stream = OutgoingStream.Begin(Subscription(1), Limits, 1, source.LastSequence);

        var ready = Assert.IsType<FrameReady>(stream.BuildNext(source));

        var blob = Assert.Single(ready.Blobs);
        Assert.Equal(held.FileId, blob.FileId);
        var chunks = new List<BlobChunk>();
        while (!blob.Done) chunks.Add(blob.ReadChunk(7, Limits.ChunkBytes));
        Assert.Equal([0L, 64L, 128L], chunks.Select(c => c.Offset));
        Assert.Equal(Bytes(held.FileId, 150), chunks.SelectMany(c => c.Bytes));
        var records = RecordFrameCodec.Decode(((RecordFrame)ready.Frame).Payload, 2, 0, 2, int.MaxValue, long.MaxValue);
        Assert.Equal(["ab00000000000000000000000000000b"], records[1].UnavailableFileIds);
    }

    [Fact]
    public void Frames_fill_to_a_byte_target_across_log_reads_each_with_a_record_and_never_over_the_frame_limit()
    {
        var source = Source(out _, retention: 10_000);
        var ids = Enumerable.Range(0, 2_500).Select(i => $"r{i:D4}").ToList();
        foreach (var id in ids.Take(1_200)) source.WriteLocal("t", id, (_, v) => Record(id, "me") with { Version = v });
        // Larger than the target but within the limit: it goes, alone in its frame.
        source.WriteLocal("t", "big", (_, v) => Record("big", "me") with { Version = v, Data = new byte[40_000] });
        foreach (var id in ids.Skip(1_200)) source.WriteLocal("t", id, (_, v) => Record(id, "me") with { Version = v });
        var limits = new StreamLimits(ChunkBytes: 64, FrameTargetBytes: 32 * 1024, MaxFramePayloadBytes: 48 * 1024, WindowBytes: 1L << 20);
        var stream = OutgoingStream.Begin(Subscription(1), limits, 1, source.LastSequence);

        var frames = new List<RecordFrame>();
        while (stream.BuildNext(source) is FrameReady ready)
        {
            frames.Add(Assert.IsType<RecordFrame>(ready.Frame));
            stream = ready.Next.Credited(new Credit(7, ready.Next.SentBytes));
        }

        Assert.All(frames, f => Assert.InRange(f.RecordCount, 1, int.MaxValue));
        Assert.All(frames, f => Assert.InRange(f.Payload.Length, 1, limits.MaxFramePayloadBytes));
        Assert.All(frames.Where(f => f.RecordCount > 1), f => Assert.InRange(f.Payload.Length, 1, limits.FrameTargetBytes));
        Assert.Contains(frames, f => f.RecordCount == 1 && f.Payload.Length > limits.FrameTargetBytes);
        // Frames are bounded by bytes, not by a read of the log: one holds more records than one read returns.
        Assert.Contains(frames, f => f.RecordCount > 512);
        // Every record once, in log order, each frame continuing where the last ended.
        var received = frames.SelectMany(f => RecordFrameCodec.Decode(f.Payload, f.RecordCount, f.AfterSequence, f.UpToSequence, int.MaxValue, long.MaxValue));
        Assert.Equal(ids.Take(1_200).Append("big").Concat(ids.Skip(1_200)), received.Select(r => r.Record.Id));
        Assert.Equal(frames.Select(f => f.UpToSequence).SkipLast(1), frames.Skip(1).Select(f => f.AfterSequence));
        Assert.Equal(source.LastSequence, frames[^1].UpToSequence);
    }

    private static Subscribe Subscription(long fromSequence) =>
        new("follower", 7, fromSequence, Limits.WindowBytes, ActorRefs.Nobody, MaxChunkBytes: Limits.ChunkBytes, MaxFramePayloadBytes: Limits.MaxFramePayloadBytes);

    private static SimStore Source(out long wallClockMs, long retention = 1_000)
    {
        wallClockMs = Simulation.Simulation.EpochMs;
        var now = wallClockMs;
        return new SimStore("me", retention, () => now);
    }

    private static void Apply(SimStore store, StoredRecord record) => store.ApplyReplicated([record]);
}
