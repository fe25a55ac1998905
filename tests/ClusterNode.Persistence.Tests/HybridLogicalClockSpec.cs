using System.Text;
using ClusterNode.Persistence.Records;
using FsCheck;
using FsCheck.Fluent;
using Microsoft.FSharp.Core;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Persistence.Tests;

/// <summary>
/// Versions must only ever grow, whatever the wall clock does, or a new write could lose to an old one.
/// Plain xunit rather than TestKit: nothing here is an actor, and an ActorSystem per test would only cost time.
/// </summary>
public sealed class HybridLogicalClockSpec(ITestOutputHelper output)
{
    private const long BaseMs = 1_700_000_000_000;

    private static ulong At(long ms, ushort counter = 0) => ((ulong)ms << 16) | counter;

    [Fact]
    public void Clock_is_strictly_increasing_within_one_millisecond()
    {
        var clock = new HybridLogicalClock(wallClockMs: () => BaseMs);
        var previous = clock.Next();
        for (var i = 0; i < 100_000; i++)
        {
            var next = clock.Next();
            Assert.True(next > previous, $"call {i}: {next:x16} is not after {previous:x16}");
            previous = next;
        }
        // 100k calls in one millisecond carry past the 16-bit counter into the time bits and stay ordered.
        Assert.True(HybridLogicalClock.PhysicalMs(previous) > BaseMs);
    }

    [Fact]
    public void Clock_follows_the_wall_clock_when_it_moves_forward()
    {
        var now = BaseMs;
        var clock = new HybridLogicalClock(wallClockMs: () => now);
        clock.Next();
        now += 5_000;
        Assert.Equal(now, HybridLogicalClock.PhysicalMs(clock.Next()));
    }

    [Fact]
    public void A_wall_clock_stepped_back_does_not_make_new_timestamps_smaller()
    {
        var now = BaseMs;
        var clock = new HybridLogicalClock(wallClockMs: () => now);
        var before = clock.Next();
        now -= 3_600_000; // an NTP step of an hour back
        var after1 = clock.Next();
        var after2 = clock.Next();
        Assert.True(after1 > before);
        Assert.True(after2 > after1);
    }

    [Fact]
    public void A_restored_clock_continues_after_the_restored_value()
    {
        var restored = At(BaseMs, 7);
        var clock = new HybridLogicalClock(restored, () => BaseMs - 10_000);
        Assert.True(clock.Next() > restored);
    }

    [Fact]
    public void Observing_a_remote_timestamp_orders_later_local_timestamps_after_it()
    {
        var clock = new HybridLogicalClock(wallClockMs: () => BaseMs);
        var remote = At(BaseMs + 60_000, 42); // a peer whose clock runs a minute ahead
        clock.Observe(remote);
        var local = clock.Next();
        Assert.True(local > remote);
        Assert.True(clock.Next() > local);
    }

    [Fact]
    public void Observing_an_older_remote_timestamp_does_not_move_the_clock_back()
    {
        var clock = new HybridLogicalClock(wallClockMs: () => BaseMs);
        var local = clock.Next();
        clock.Observe(At(BaseMs - 60_000));
        Assert.True(clock.Next() > local);
    }

    [Fact]
    public void A_write_after_a_restart_with_the_clock_set_back_beats_the_write_before()
    {
        using var dir = new TempDirectory();
        var settings = new RecordStoreSettings(dir.FullPath, MapSizeBytes: 64 << 20);
        RecordVersion before;
        using (var store = RecordStore.Open(settings, () => BaseMs))
            before = store.PutData("t", "r", Encoding.UTF8.GetBytes("""{"v":"before"}""")).Record.Version;

        using (var store = RecordStore.Open(settings, () => BaseMs - 86_400_000)) // a day back
        {
            var after = store.PutData("t", "r", Encoding.UTF8.GetBytes("""{"v":"after"}""")).Record.Version;
            Assert.True(after > before, $"{after} is not after {before}");
            Assert.Equal("""{"v":"after"}""", Encoding.UTF8.GetString(store.Get("t", "r")!.Data));
        }
    }

    [Fact]
    public void A_remote_timestamp_applied_before_a_restart_is_still_beaten_after_it()
    {
        using var dir = new TempDirectory();
        var settings = new RecordStoreSettings(dir.FullPath, MapSizeBytes: 64 << 20);
        var remote = new RecordVersion(At(BaseMs + 3_600_000), "peer");
        using (var store = RecordStore.Open(settings, () => BaseMs))
            store.ApplyReplicated([new StoredRecord("t", "r", remote, false, "{}"u8.ToArray(), [])]);

        using (var store = RecordStore.Open(settings, () => BaseMs))
        {
            var local = store.PutData("t", "r", "{\"mine\":1}"u8.ToArray()).Record.Version;
            Assert.True(local > remote, $"{local} is not after {remote}");
        }
    }

    /// <summary>One step of the property: read the wall clock (which may jump either way) or observe a peer.</summary>
    private sealed record Step(bool Observe, long WallMs, ulong Remote)
    {
        public override string ToString() => Observe ? $"Observe({Remote:x16})" : $"Next(wall={WallMs})";
    }

    private static readonly Gen<Step> StepGen =
        from observe in Gen.Frequency((3, Gen.Constant(false)), (1, Gen.Constant(true)))
        from offsetMs in Gen.Choose(-5_000, 5_000)
        from counter in Gen.Choose(0, ushort.MaxValue)
        select new Step(observe, BaseMs + offsetMs, At(BaseMs + offsetMs, (ushort)counter));

    [Fact]
    public void Next_is_greater_than_every_timestamp_issued_or_observed_before()
    {
        var seed = TestSeed.Pick(output, nameof(Next_is_greater_than_every_timestamp_issued_or_observed_before));
        var property = Prop.ForAll(Arb.From(Gen.ListOf(StepGen).Select(s => s.ToArray())), steps =>
        {
            var wallMs = BaseMs;
            var clock = new HybridLogicalClock(wallClockMs: () => wallMs);
            ulong highest = 0;
            foreach (var step in steps)
            {
                if (step.Observe)
                {
                    clock.Observe(step.Remote);
                    highest = Math.Max(highest, step.Remote);
                    continue;
                }
                wallMs = step.WallMs;
                var next = clock.Next();
                if (next <= highest) return false;
                highest = next;
            }
            return true;
        });
        var replay = new Replay(new Rnd((ulong)seed), FSharpOption<int>.None);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300).WithReplay(FSharpOption<Replay>.Some(replay)), property);
    }

    [Fact]
    public void A_clock_at_its_largest_value_does_not_wrap_around_to_zero()
    {
        var clock = new HybridLogicalClock(wallClockMs: () => BaseMs);
        clock.Observe(ulong.MaxValue); // e.g. a peer with a wildly wrong clock or a corrupt version
        // No timestamp can follow the largest one, so refusing is the only correct answer; a wrap is silent loss
        // of ordering (every later local write would lose to everything ever written).
        var issued = 0UL;
        var refused = Record.Exception(() => issued = clock.Next());
        Assert.True(refused is not null, $"Next() returned {issued:x16} after observing {ulong.MaxValue:x16}");
    }
}
