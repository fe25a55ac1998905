using ClusterNode.Actors.Watermarks;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace ClusterNode.Tests.Watermarks;

/// <summary>
/// Hammers <see cref="DurabilityWatermark"/> with random interleavings of commits (sequences jump as skipped
/// entries do), blob outcomes, durable reports that overtake their commit, empty sequence updates, refused
/// re-commits and restarts, against the harness's own truth of which blobs are durable. Restarts are modelled
/// like the real system: blobs in flight are lost, and the source re-streams everything above the new start.
///
/// <para>Every case is driven by one int seed, logged; set <c>CLUSTER_TEST_SEED</c> to replay one seed (the
/// property then runs only that seed, and <see cref="Watermark_must_hold_for_the_replayed_seed"/> runs it once).</para>
/// </summary>
public sealed class DurabilityWatermarkProperties
{
    private const string SeedVariable = "CLUSTER_TEST_SEED";
    private readonly ITestOutputHelper _output;

    public DurabilityWatermarkProperties(ITestOutputHelper output) => _output = output;

    /// <summary>Seeds over the whole range, not shrunk: a failing seed is reported as it is, ready to replay.</summary>
    public static class Seeds
    {
        public static Arbitrary<int> Int32() => Arb.From(Gen.Choose(0, int.MaxValue - 1));
    }

    [Property(MaxTest = 600, Arbitrary = new[] { typeof(Seeds) })]
    public void Watermark_must_never_pass_a_blob_that_is_not_durable(int seed)
    {
        seed = ReplaySeed() ?? seed;
        _output.WriteLine($"seed {seed} (replay: {SeedVariable}={seed})");
        new Harness(seed).Run();
    }

    [Fact]
    public void Watermark_must_hold_for_the_replayed_seed()
    {
        foreach (var seed in ReplaySeed() is { } replay ? new[] { replay } : new[] { 0, 1, 42, 20240601 })
        {
            _output.WriteLine($"seed {seed}");
            new Harness(seed).Run();
        }
    }

    private static int? ReplaySeed() =>
        Environment.GetEnvironmentVariable(SeedVariable) is { Length: > 0 } text ? int.Parse(text) : null;

    /// <summary>One audit-log entry of the source: a transaction with its blobs, or a sequence update without data.</summary>
    private sealed record Entry(long Sequence, string[] Blobs, bool WithoutData);

    private sealed class Harness
    {
        private const int MaxSteps = 80;
        private readonly int _seed;
        private readonly Random _random;
        private readonly List<Entry> _source = new();
        private readonly HashSet<(long Sequence, string FileId)> _durable = new(); // the truth: saved and fsynced
        // Blobs this epoch listed as still to come and that have not been reported durable in it.
        private readonly List<(long Sequence, string FileId)> _outstanding = new();
        private readonly HashSet<(long Sequence, string FileId)> _failed = new();
        private readonly Queue<string> _recent = new();
        private DurabilityWatermark _watermark;
        private long _sourceLast;
        private int _nextToStream; // index in _source of the next entry this epoch delivers
        private long _lastDelivered;
        private long _persisted;
        private int _step;

        public Harness(int seed)
        {
            _seed = seed;
            _random = new Random(seed);
            // A node that already has a persisted cursor: everything up to it is on disk.
            var start = _random.Next(3) == 0 ? 0 : _random.Next(1, 30);
            for (var sequence = 1L; sequence <= start; sequence++)
            {
                var entry = NewEntry(sequence, withoutData: false);
                foreach (var blob in entry.Blobs) _durable.Add((sequence, blob));
            }
            _sourceLast = start;
            _nextToStream = _source.Count;
            _watermark = new DurabilityWatermark(start);
            _lastDelivered = start;
            _persisted = start;
        }

        public void Run()
        {
            Note($"start from {_persisted}");
            var steps = _random.Next(1, MaxSteps);
            for (_step = 1; _step <= steps; _step++)
            {
                var roll = _random.Next(100);
                if (roll < 35) CommitSome();
                else if (roll < 55) ReportDurable();
                else if (roll < 65) ReportFailed();
                else if (roll < 73) UpdateWithoutData();
                else if (roll < 80) ReportDurableBeforeCommit();
                else if (roll < 88) Restart();
                else CommitAgain();
                Check();
            }

            // The end: repair (a failed blob is re-saved by re-streaming), deliver everything, save everything.
            if (_failed.Count > 0) { Restart(); Check(); }
            while (_nextToStream < _source.Count) { DeliverNext(); Check(); }
            while (_outstanding.Count > 0) { ReportDurable(); Check(); }
            That(_watermark.Committed == _sourceLast, $"at the end committed {_watermark.Committed} != last of the source {_sourceLast}");
            That(_watermark.Durable == _watermark.Committed, $"at the end durable {_watermark.Durable} != committed {_watermark.Committed}");
            That(_persisted == _sourceLast, $"at the end the persisted cursor {_persisted} != last of the source {_sourceLast}");
            foreach (var entry in _source)
            foreach (var blob in entry.Blobs)
                That(_durable.Contains((entry.Sequence, blob)), $"at the end blob {blob} of {entry.Sequence} is not durable");
        }

        private Entry NewEntry(long sequence, bool withoutData)
        {
            var count = withoutData || _random.Next(5) < 2 ? 0 : _random.Next(1, 4);
            var entry = new Entry(sequence, Enumerable.Range(0, count).Select(i => $"f{sequence}.{i}").ToArray(), withoutData);
            _source.Add(entry);
            return entry;
        }

        /// <summary>The source writes more: the next sequence, or a jump over entries this follower does not get.</summary>
        private void Grow(bool withoutData)
        {
            var jump = _random.Next(4) == 0 ? _random.Next(1, 6) : 0;
            _sourceLast += 1 + jump;
            NewEntry(_sourceLast, withoutData);
        }

        private void CommitSome()
        {
            var count = _random.Next(1, 4);
            for (var i = 0; i < count; i++)
            {
                if (_nextToStream == _source.Count) Grow(withoutData: false);
                DeliverNext();
            }
        }

        private void UpdateWithoutData()
        {
            // A sender reports how far its log goes only once it has streamed everything before.
            if (_nextToStream == _source.Count) Grow(withoutData: true);
            DeliverNext();
        }

        /// <summary>The saver's report overtakes the receiver's Committed (two actors, no order between them).</summary>
        private void ReportDurableBeforeCommit()
        {
            if (_nextToStream == _source.Count)
            {
                _sourceLast += 1;
                var entry = new Entry(_sourceLast, Enumerable.Range(0, _random.Next(1, 4)).Select(i => $"f{_sourceLast}.{i}").ToArray(), false);
                _source.Add(entry);
            }
            var next = _source[_nextToStream];
            var notDurable = next.Blobs.Where(blob => !_durable.Contains((next.Sequence, blob))).ToList();
            if (notDurable.Count == 0)
            {
                DeliverNext();
                return;
            }
            var early = notDurable[_random.Next(notDurable.Count)];
            Note($"durable {next.Sequence} {early} (before its commit)");
            _watermark.BlobDurable(next.Sequence, early);
            _durable.Add((next.Sequence, early));
            DeliverNext(reportedEarly: early);
        }

        /// <summary>Delivers the next entry of the stream, listing only the blobs that are not durable yet.</summary>
        private void DeliverNext(string? reportedEarly = null)
        {
            var entry = _source[_nextToStream++];
            var toCome = entry.Blobs
                .Where(blob => blob == reportedEarly || !_durable.Contains((entry.Sequence, blob)))
                .ToArray();
            bool accepted;
            if (entry.WithoutData)
            {
                Note($"advance {entry.Sequence}");
                accepted = _watermark.Advance(entry.Sequence);
            }
            else
            {
                Note($"commit {entry.Sequence} [{string.Join(",", toCome)}]");
                accepted = _watermark.Commit(entry.Sequence, toCome);
            }
            That(accepted, $"commit of {entry.Sequence} above committed {_lastDelivered} was refused");
            _lastDelivered = entry.Sequence;
            foreach (var blob in toCome.Where(blob => blob != reportedEarly)) _outstanding.Add((entry.Sequence, blob));
        }

        private void ReportDurable()
        {
            if (_outstanding.Count == 0) return;
            var index = _random.Next(_outstanding.Count);
            var blob = _outstanding[index];
            _outstanding.RemoveAt(index);
            _failed.Remove(blob);
            _durable.Add(blob);
            Note($"durable {blob.Sequence} {blob.FileId}");
            _watermark.BlobDurable(blob.Sequence, blob.FileId);
        }

        private void ReportFailed()
        {
            if (_outstanding.Count == 0) return;
            var blob = _outstanding[_random.Next(_outstanding.Count)];
            _failed.Add(blob);
            Note($"failed {blob.Sequence} {blob.FileId}");
            _watermark.BlobFailed(blob.Sequence, blob.FileId);
        }

        /// <summary>A duplicate or stale commit at or below committed: refused, and it changes nothing.</summary>
        private void CommitAgain()
        {
            var before = (_watermark.Committed, _watermark.Durable, _watermark.OutstandingBlobs, _watermark.FailedBlobs);
            var sequence = _watermark.Committed - _random.Next(0, 5);
            if (sequence < 0) return;
            Note($"commit {sequence} again [again]");
            That(!_watermark.Commit(sequence, new[] { "again" }), $"a commit of {sequence} at or below committed {before.Committed} was accepted");
            var after = (_watermark.Committed, _watermark.Durable, _watermark.OutstandingBlobs, _watermark.FailedBlobs);
            That(before == after, $"a refused commit changed the watermark from {before} to {after}");
        }

        /// <summary>A new subscription: blobs in flight are lost, and the source re-streams everything above the start.</summary>
        private void Restart()
        {
            var durableBefore = _watermark.Durable;
            _watermark = _watermark.Restart();
            Note($"restart from {_watermark.StartedFrom}");
            That(_watermark.StartedFrom == durableBefore, $"restarted from {_watermark.StartedFrom}, not from durable {durableBefore}");
            That(_watermark.StartedFrom >= _persisted, $"restarted from {_watermark.StartedFrom}, below the persisted cursor {_persisted}");
            That(_watermark.Committed == _watermark.StartedFrom && _watermark.OutstandingBlobs == 0 && _watermark.FailedBlobs == 0,
                $"a restarted watermark is not empty: committed {_watermark.Committed}, outstanding {_watermark.OutstandingBlobs}, failed {_watermark.FailedBlobs}");
            _outstanding.Clear();
            _failed.Clear();
            _nextToStream = _source.FindIndex(entry => entry.Sequence > _watermark.StartedFrom);
            if (_nextToStream < 0) _nextToStream = _source.Count;
            _lastDelivered = _watermark.StartedFrom;
        }

        private void Check()
        {
            var durable = _watermark.Durable;
            var committed = _watermark.Committed;
            That(durable <= committed, $"durable {durable} > committed {committed}");
            That(committed == _lastDelivered, $"committed {committed} != the last sequence delivered {_lastDelivered}");
            // (a) What the actor forwards to the cursor store: the watermark never asks for less than is
            // persisted, so the persisted cursor never moves backwards.
            That(durable >= _persisted, $"durable {durable} fell below the persisted cursor {_persisted}");
            var persisted = Math.Max(_persisted, durable);
            That(persisted >= _persisted, $"the persisted cursor moved back from {_persisted} to {persisted}");
            _persisted = persisted;
            // (b) Against the harness's own truth: nothing at or below durable (or the cursor) lacks a blob.
            foreach (var entry in _source)
            {
                if (entry.Sequence > Math.Max(durable, _persisted)) break;
                foreach (var blob in entry.Blobs)
                    That(_durable.Contains((entry.Sequence, blob)),
                        $"durable {durable} / persisted cursor {_persisted} passed blob {blob} of {entry.Sequence}, which is not durable");
            }
            // Precision: held exactly below the lowest transaction that still waits, not lower.
            var expected = _outstanding.Count == 0 ? committed : _outstanding.Min(blob => blob.Sequence) - 1;
            That(durable == expected, $"durable {durable}, but the lowest transaction waiting for a blob says {expected}");
            That(_watermark.OutstandingBlobs == _outstanding.Count, $"{_watermark.OutstandingBlobs} blobs outstanding, expected {_outstanding.Count}");
            That(_watermark.FailedBlobs == _failed.Count, $"{_watermark.FailedBlobs} blobs failed, expected {_failed.Count}");
            That(_watermark.BlobGap == committed - durable, $"blob gap {_watermark.BlobGap} != {committed} - {durable}");
        }

        private void Note(string operation)
        {
            _recent.Enqueue($"{_step}: {operation}");
            if (_recent.Count > 12) _recent.Dequeue();
        }

        private void That(bool condition, string message)
        {
            if (condition) return;
            throw new XunitException(
                $"seed {_seed}, step {_step}: {message}\nreplay with {SeedVariable}={_seed}\nlast steps:\n  {string.Join("\n  ", _recent)}");
        }
    }
}
