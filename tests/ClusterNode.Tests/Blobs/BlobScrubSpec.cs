using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using ClusterNode.Actors;
using ClusterNode.Actors.Blobs;
using ClusterNode.Actors.Replication;
using ClusterNode.Persistence.Blobs;
using ClusterNode.Persistence.Records;
using ClusterNode.Tests.Replication;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Blobs;

/// <summary>
/// The blob scrub over a real RecordStore in a temp directory: damaged files are reported within a pass and right ones
/// remembered as verified, lost blobs skipped, a record changed meanwhile not taken for damage, old orphans deleted
/// and young ones kept, and the bytes hashed per second held to the rate.
/// </summary>
public sealed class BlobScrubSpec : Akka.TestKit.Xunit2.TestKit
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly string _dir = TestData.TempDirectory("scrub");
    private readonly RecordStore _store;
    private readonly ConcurrentQueue<BlobDamage> _damage = new();

    public BlobScrubSpec(ITestOutputHelper output) : base(ConfigurationFactory.ParseString("akka.loglevel = INFO").WithDefaults(), "scrub-spec", output)
    {
        _store = NodeRuntime.OpenStore(ReplicationSettings.Create(ConfigurationFactory.ParseString($"cluster-node.data-dir = \"{_dir.Replace("\\", "/")}\"")));
        _store.BlobDamaged += _damage.Enqueue;
    }

    [Fact]
    public async Task Scrub_must_report_an_overwritten_and_a_deleted_file_within_a_pass_and_mark_right_ones_verified()
    {
        var good = Write("t", "good", TestData.Blob(1, 300_000));
        var overwritten = Write("t", "overwritten", TestData.Blob(2, 300_000));
        var deleted = Write("t", "deleted", TestData.Blob(3, 5_000));
        var truncated = Write("t", "truncated", TestData.Blob(4, 5_000));
        var lost = Write("t", "lost", TestData.Blob(5, 5_000));
        File.WriteAllBytes(_store.Blobs.PathOf(overwritten.FileId), TestData.Blob(99, 300_000));
        _store.Blobs.Delete(deleted.FileId);
        File.WriteAllBytes(_store.Blobs.PathOf(truncated.FileId), TestData.Blob(4, 4_000));
        _store.Blobs.Delete(lost.FileId);
        _store.MarkBlobLost("t", "lost", lost, "no member holds it", 1);

        // Passes a second apart: the first one's counts can be read before the second begins.
        var scrub = StartScrub(interval: "1s");

        var status = await AwaitPasses(scrub, 1);
        Assert.Equal((1L, 2L, 1L), (status.Corrupt, status.Missing, status.LostSkipped));
        Assert.Equal(1, status.FilesVerified);
        Assert.Equal(2 * 300_000L, status.LastPassBytes);
        Assert.Equal(4, status.LastPassFiles);
        var reports = _damage.GroupBy(d => d.Id).ToDictionary(g => g.Key, g => g.First());
        Assert.Equal(["deleted", "overwritten", "truncated"], reports.Keys.Order());
        Assert.True(overwritten.SameContentAs(reports["overwritten"].Blob));
        Assert.Contains("sha256", reports["overwritten"].Problem);
        Assert.Contains("missing", reports["deleted"].Problem);
        Assert.Contains("4000 bytes", reports["truncated"].Problem);
        Assert.True(_store.Blobs.IsVerified(good));
        Assert.False(_store.Blobs.IsVerified(overwritten));

        // The next pass finds the same again: a damage is reported until it is repaired.
        await AwaitPasses(scrub, 2);
        Assert.True(_damage.Count >= 6, $"{_damage.Count} reports after two passes");
    }

    [Fact]
    public async Task Scrub_must_delete_an_orphan_older_than_the_grace_and_keep_a_young_one()
    {
        var referencedOld = Write("t", "kept", TestData.Blob(1, 1000));
        var oldOrphan = Place(TestData.Blob(2, 1000));
        var youngOrphan = Place(TestData.Blob(3, 1000));
        var twoHoursAgo = DateTime.UtcNow - TimeSpan.FromHours(2);
        File.SetLastWriteTimeUtc(_store.Blobs.PathOf(oldOrphan), twoHoursAgo);
        File.SetLastWriteTimeUtc(_store.Blobs.PathOf(referencedOld.FileId), twoHoursAgo);

        var scrub = StartScrub();

        var status = await AwaitPasses(scrub, 1);
        Assert.Equal(1, status.OrphansDeleted);
        Assert.False(File.Exists(_store.Blobs.PathOf(oldOrphan)));
        Assert.True(File.Exists(_store.Blobs.PathOf(youngOrphan)));
        Assert.True(_store.Blobs.Verify(referencedOld));
        Assert.Empty(_damage);
    }

    [Fact]
    public async Task Scrub_must_not_delete_an_old_file_that_a_record_written_during_the_pass_names()
    {
        // A slow pass (256 KiB/s over a 1 MiB file first) leaves time to write a record behind the walk.
        Write("a", "first", TestData.Blob(1, 1 << 20));
        var oldFile = Place(TestData.Blob(2, 1000));
        File.SetLastWriteTimeUtc(_store.Blobs.PathOf(oldFile), DateTime.UtcNow - TimeSpan.FromHours(2));
        var scrub = StartScrub(rate: "256 KiB");
        await AwaitAssertAsync(async () => Assert.True((await Status(scrub)).PassBytes > 0), Timeout);

        // Key "0/behind" sorts before every record the walk has reached: only the audit log tells the scrub about it.
        var blob = new BlobRef("f", oldFile, 1000, System.Security.Cryptography.SHA256.HashData(TestData.Blob(2, 1000)));
        _store.PutBlob("0", "behind", blob);

        var status = await AwaitPasses(scrub, 1);
        Assert.Equal(0, status.OrphansDeleted);
        Assert.True(File.Exists(_store.Blobs.PathOf(oldFile)));
    }

    [Fact]
    public async Task Scrub_must_not_report_a_file_that_its_record_replaced_meanwhile()
    {
        Write("a", "first", TestData.Blob(1, 1 << 20));
        var replaced = Write("b", "second", TestData.Blob(2, 1000));
        var scrub = StartScrub(rate: "256 KiB");
        // The page holding both records is loaded and the first file is being hashed: the second is queued as it was.
        await AwaitAssertAsync(async () => Assert.True((await Status(scrub)).PassBytes > 0), Timeout);

        Write("b", "second", TestData.Blob(3, 2000)); // the store deletes the file of the version replaced
        Assert.False(File.Exists(_store.Blobs.PathOf(replaced.FileId)));

        var status = await AwaitPasses(scrub, 1);
        Assert.Empty(_damage);
        Assert.Equal(0, status.Missing);
    }

    /// <summary>
    /// Bytes hashed between two status answers stay within rate x (time between sending the first question and getting
    /// the second answer) plus three steps (the pace's allowance of one, the step under way at each end). The data is
    /// far more than that, so an unpaced scrub would break the bound; the lower bound only asks for a quarter of the rate.
    /// </summary>
    [Fact]
    public async Task Scrub_must_hash_no_faster_than_its_rate()
    {
        const long rate = 4L << 20;
        for (var i = 0; i < 12; i++) Write("t", $"r{i:D2}", TestData.Blob(i, 2 << 20));
        var scrub = StartScrub(rate: "4 MiB");
        await AwaitAssertAsync(async () => Assert.True((await Status(scrub)).BytesHashed > 0), Timeout);

        var clock = Stopwatch.StartNew();
        var first = await Status(scrub);
        await Task.Delay(TimeSpan.FromSeconds(2.5)); // the measured interval, not a wait for a condition
        var second = await Status(scrub);
        var elapsed = clock.Elapsed;

        var hashed = second.BytesHashed - first.BytesHashed;
        var bound = rate * elapsed.TotalSeconds + 3 * (1 << 20);
        Output.WriteLine($"hashed {hashed} bytes in {elapsed.TotalSeconds:F2} s: {hashed / elapsed.TotalSeconds / (1 << 20):F2} MiB/s; bound {bound:F0}");
        Assert.True(hashed <= bound, $"hashed {hashed} bytes in {elapsed.TotalSeconds:F2} s, over the bound {bound:F0}");
        Assert.True(hashed >= rate * 2.5 / 4, $"hashed only {hashed} bytes in {elapsed.TotalSeconds:F2} s");
        Assert.True(second.PassesCompleted == 0, "the whole pass finished: the data was too small to test the rate");
    }

    /// <summary>The pace alone, on a simulated clock whose timers fire up to 30 ms late: every window keeps the bound.</summary>
    [Fact]
    public void Pace_must_keep_every_window_within_rate_plus_two_steps_even_with_late_timers()
    {
        const long rate = 8L << 20;
        const int step = 1 << 20;
        var random = new Random(7);
        var pace = new ScrubPace(rate, step);
        var starts = new List<(TimeSpan At, long Bytes)>();
        var now = TimeSpan.Zero;
        for (var i = 0; i < 2000; i++)
        {
            var bytes = random.Next(2) == 0 ? step : random.Next(1, step);
            starts.Add((now, bytes));
            now += TimeSpan.FromMilliseconds(random.NextDouble() * 3); // the read itself
            var wait = pace.Spent(bytes, now);
            now += wait + TimeSpan.FromMilliseconds(random.NextDouble() * 30);
        }
        for (var a = 0; a < starts.Count; a++)
        {
            long sum = 0;
            for (var b = a; b < starts.Count && b < a + 200; b++)
            {
                sum += starts[b].Bytes;
                var window = (starts[b].At - starts[a].At).TotalSeconds;
                Assert.True(sum <= rate * window + 2 * step, $"steps {a}..{b}: {sum} bytes in {window:F4} s");
            }
        }
        var average = starts.Sum(s => s.Bytes) / now.TotalSeconds;
        Assert.InRange(average, rate * 0.9, rate * 1.01); // late timers are made up: the rate is reached, not undershot
    }

    [Theory]
    [InlineData("cluster-node.scrub.interval = soon", "cluster-node.scrub.interval")]
    [InlineData("cluster-node.scrub.interval = 0s", "cluster-node.scrub.interval")]
    [InlineData("cluster-node.scrub.rate = fast", "cluster-node.scrub.rate")]
    [InlineData("cluster-node.scrub.rate = 1 KiB", "cluster-node.scrub.rate")]
    [InlineData("cluster-node.scrub.orphan-grace = 10ms", "cluster-node.scrub.orphan-grace")]
    public void A_bad_scrub_setting_must_fail_with_an_error_naming_the_key(string hocon, string key)
    {
        var error = Assert.Throws<ConfigurationException>(() => BlobScrub.Settings.Create(ConfigurationFactory.ParseString(hocon)));
        Assert.Contains(key, error.Message);
    }

    [Fact]
    public void Scrub_defaults_must_be_the_documented_ones()
    {
        var settings = BlobScrub.Settings.Create(ConfigurationFactory.Empty);
        Assert.Equal(new BlobScrub.Settings(TimeSpan.FromHours(6), 64L << 20, TimeSpan.FromHours(1), 1 << 20, "cluster-node.io-dispatcher"), settings);
    }

    private IActorRef StartScrub(string rate = "1 GiB", string interval = "200ms") =>
        Sys.ActorOf(BlobScrub.Props(_store, BlobScrub.Settings.Create(ConfigurationFactory.ParseString($"""
            cluster-node.scrub.interval = {interval}
            cluster-node.scrub.rate = {rate}
            """))));

    private Task<BlobScrub.Status> Status(IActorRef scrub) => scrub.Ask<BlobScrub.Status>(BlobScrub.GetStatus.Instance, Timeout);

    private async Task<BlobScrub.Status> AwaitPasses(IActorRef scrub, long passes)
    {
        BlobScrub.Status? status = null;
        await AwaitAssertAsync(async () =>
        {
            status = await Status(scrub);
            Assert.True(status.PassesCompleted >= passes, $"{status.PassesCompleted} passes completed");
        }, Timeout, TimeSpan.FromMilliseconds(50));
        return status!;
    }

    /// <summary>A record with one blob, written as the HTTP API does it: the file durable and in place, then the record.</summary>
    private BlobRef Write(string table, string id, byte[] bytes)
    {
        using var writer = _store.Blobs.BeginWrite();
        writer.Append(bytes);
        var blob = writer.Commit("f", BlobStore.NewFileId());
        _store.PutBlob(table, id, blob);
        return blob;
    }

    /// <summary>A blob file in place that no record names.</summary>
    private string Place(byte[] bytes)
    {
        using var writer = _store.Blobs.BeginWrite();
        writer.Append(bytes);
        return writer.Commit("f", BlobStore.NewFileId()).FileId;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        _store.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
