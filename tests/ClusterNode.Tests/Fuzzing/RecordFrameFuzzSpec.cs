using ClusterNode.Actors.Replication;
using ClusterNode.Actors.Streams;
using ClusterNode.Persistence.Blobs;
using ClusterNode.Persistence.Records;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Fuzzing;

/// <summary>
/// Mutated record and copy frames through the follower's pure rules (<see cref="IncomingStream"/>, which decodes with
/// <see cref="RecordFrameCodec.Decode"/>): every frame is refused, or accepted with records that are all valid (names,
/// origin, file ids, sizes, hashes, sequences in order within the frame), and applying an accepted one and feeding it
/// chunks never throws. Nothing else reaches the store.
/// </summary>
public sealed class RecordFrameFuzzSpec(ITestOutputHelper output)
{
    private const long Committed = 10;
    private const int MaxPayloadBytes = 1 << 20;

    [Fact]
    public void A_mutated_frame_must_be_refused_or_accepted_with_valid_records_never_throw()
    {
        var frames = Corpus.Frames().ToArray();
        var corpus = frames.Select(f => f.Payload).ToArray();
        Fuzz.Run(output, "record frames through IncomingStream.Check", Fuzz.Cases(60_000), (random, i) =>
        {
            var valid = frames[random.Next(frames.Length)];
            var payload = Fuzz.Input(random, corpus);
            var count = random.Next(6) == 0 ? Edge(random) : valid.RecordCount + (random.Next(4) == 0 ? random.Next(-2, 3) : 0);
            var upTo = random.Next(6) == 0 ? Edge(random) : valid.UpToSequence + (random.Next(4) == 0 ? random.Next(-3, 4) : 0);
            var after = random.Next(8) == 0 ? Edge(random) : valid.AfterSequence;
            var frame = new RecordFrame(1, after, upTo, (int)Math.Clamp(count, int.MinValue, int.MaxValue), payload);
            var stream = IncomingStream.Begin(1, Committed);
            return Fuzz.Expect<NeverAllowed>(payload, () => Outcome(random, stream, stream.Check(frame, MaxPayloadBytes), frame.AfterSequence, frame.UpToSequence, payload));
        });
    }

    [Fact]
    public void A_mutated_copy_frame_must_be_refused_or_accepted_with_valid_records_never_throw()
    {
        var records = Corpus.Records;
        var corpus = new[] { Corpus.Payload(0, records), Corpus.Payload(0, records[..2]), Corpus.Payload(0, records[2..]) };
        Fuzz.Run(output, "copy frames through IncomingStream.Check", Fuzz.Cases(30_000), (random, i) =>
        {
            var payload = Fuzz.Input(random, corpus);
            var count = random.Next(6) == 0 ? (int)Math.Clamp(Edge(random), int.MinValue, int.MaxValue) : random.Next(5);
            var start = random.Next(6) == 0 ? Edge(random) : 40;
            var frame = new CopyFrame(1, start, [], 0, count, payload, random.Next(2) == 0);
            var stream = IncomingStream.Begin(1, Committed);
            return Fuzz.Expect<NeverAllowed>(payload, () => Outcome(random, stream, stream.Check(frame, MaxPayloadBytes), 0, RecordFrameCodec.MaxSequence, payload));
        });
    }

    private static long Edge(Random random) =>
        new[] { 0L, -1, 1, long.MaxValue, long.MinValue, int.MaxValue, int.MinValue, RecordFrameCodec.MaxSequence, RecordFrameCodec.MaxSequence + 1 }[random.Next(9)];

    private static string Outcome(Random random, IncomingStream stream, FrameCheck check, long after, long upTo, byte[] input)
    {
        if (check is FrameRefused refused)
        {
            if (string.IsNullOrEmpty(refused.Reason)) throw Fuzz.Fail("refused without a reason", input);
            return refused.LostInTransit ? "gap" : "refused";
        }
        var accepted = (FrameAccepted)check;
        var previous = after;
        foreach (var (sequence, record, unavailable) in accepted.Records)
        {
            if (sequence <= previous || sequence > upTo) throw Fuzz.Fail($"accepted sequence {sequence} after {previous}, up to {upTo}", input);
            previous = sequence;
            if ((Names.Problem("table", record.Table) ?? Names.Problem("id", record.Id)) is { } name) throw Fuzz.Fail($"accepted a bad name: {name}", input);
            if (!RecordStore.IsValidNodeId(record.Version.Origin)) throw Fuzz.Fail($"accepted origin '{record.Version.Origin}'", input);
            if (record.Deleted && (record.Data.Length > 0 || record.Blobs.Count > 0)) throw Fuzz.Fail("accepted a tombstone with data", input);
            if (record.Blobs.Select(b => b.Field).Distinct().Count() != record.Blobs.Count) throw Fuzz.Fail("accepted a field twice", input);
            foreach (var blob in record.Blobs)
            {
                if (!Names.IsValid(blob.Field) || !BlobStore.IsValidFileId(blob.FileId) || blob.Size < 0 || blob.Sha256.Length != RecordCodec.Sha256Bytes)
                    throw Fuzz.Fail($"accepted blob {blob.Field}/{blob.FileId} of {blob.Size} bytes, {blob.Sha256.Length}-byte hash", input);
            }
            if (!unavailable.IsSubsetOf(record.Blobs.Select(b => b.FileId))) throw Fuzz.Fail("accepted an unavailable blob the record lacks", input);
            // What the store does with it must hold too: it encodes for LMDB.
            RecordCodec.EncodeValue(record);
        }
        // Applying it and feeding it chunks, right and wrong, is pure bookkeeping that must never throw.
        var applied = stream.Applied(accepted, accepted.Records.Select(r => (IReadOnlyCollection<string>)r.Record.Blobs.Select(b => b.FileId).ToArray()).ToArray(), 100);
        var next = applied.Next;
        for (var c = 0; c < 4 && !next.DueBlobs.IsEmpty; c++)
        {
            var due = next.DueBlobs.Peek();
            var length = (int)Math.Min(due.Blob.Size - next.DueBlobReceived, random.Next(3) == 0 ? 70_000 : 65_536);
            var offset = random.Next(5) == 0 ? random.NextInt64(-1, due.Blob.Size + 2) : next.DueBlobReceived;
            var chunk = new BlobChunk(1, due.Position, random.Next(5) == 0 ? BlobStore.NewFileId() : due.Blob.FileId, offset, new byte[Math.Max(0, length)]);
            if (next.Check(chunk, 65_536) is ChunkAccepted taken) next = taken.Next;
        }
        return accepted.Records.Count > 0 ? "accepted" : "accepted empty";
    }

    /// <summary>No exception is allowed out of the pure rules: a refusal is a value.</summary>
    private sealed class NeverAllowed : Exception;
}
