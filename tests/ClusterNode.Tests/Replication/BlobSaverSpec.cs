using System.Security.Cryptography;
using Akka.Actor;
using ClusterNode.Actors;
using ClusterNode.Actors.Replication;
using ClusterNode.Actors.Watermarks;
using ClusterNode.Persistence.Blobs;
using ClusterNode.Persistence.Records;
using Xunit;
using Xunit.Abstractions;

namespace ClusterNode.Tests.Replication;

/// <summary>
/// Issue 8, nothing grows without bound: a blob saver whose disk flushes slowly holds a bounded number of sealed blobs
/// (each an open temp file) however many chunks are queued for it, and still makes every blob durable.
/// </summary>
public sealed class BlobSaverSpec : Akka.TestKit.Xunit2.TestKit
{
    private const string IoDispatcher = "cluster-node.io-dispatcher";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _dir = TestData.TempDirectory("saver");
    private readonly ITestOutputHelper _output;

    public BlobSaverSpec(ITestOutputHelper output) : base(Akka.Configuration.ConfigurationFactory.Empty.WithDefaults(), "saver-spec", output) =>
        _output = output;

    [Fact]
    public async Task A_saver_whose_flushes_are_slow_never_holds_more_than_the_bound_open_and_every_blob_ends_durable()
    {
        const int blobCount = 3 * BlobSaver.MaxSealedNotDurable + 10;
        const int blobBytes = 3000;
        const int chunkBytes = 1500;
        var blobs = new BlobStore(Path.Combine(_dir, "blobs"));
        var openTempFiles = new OpenFileCount(Path.Combine(blobs.Directory, "tmp"));
        var watermark = CreateTestProbe();
        var slowFlusher = Props.Create(() => new SlowFlusher(BlobFlusher.Props(blobs, BlobDurability.Fsync, IoDispatcher), TimeSpan.FromMilliseconds(300), openTempFiles));
        // A child of the test actor, which gets its ChunkWritten as the receiver would. The test actor also gets the
        // TestKit's own output logger's LoggerInitialized when that logger starts late (seen on a loaded CI machine).
        IgnoreMessages(message => message is Akka.Event.LoggerInitialized);
        var saver = ChildActorOf(BlobSaver.Props(blobs, watermark, slowFlusher, IoDispatcher));

        // Every chunk at once, as a window far larger than the bound would let them come.
        var refs = new List<BlobRef>();
        for (var i = 0; i < blobCount; i++)
        {
            var bytes = TestData.Blob(i, blobBytes);
            var blob = new BlobRef("f", BlobStore.NewFileId(), bytes.Length, SHA256.HashData(bytes));
            refs.Add(blob);
            for (var offset = 0; offset < bytes.Length; offset += chunkBytes)
                saver.Tell(new BlobSaver.SaveChunk(1, i + 1, blob, offset, bytes[offset..(offset + chunkBytes)], chunkBytes));
        }

        var durable = new HashSet<string>();
        while (durable.Count < blobCount)
        {
            var message = await watermark.ReceiveOneAsync(Timeout);
            Assert.True(message is Watermark.BlobDurable, $"not durable: {message}");
            durable.Add(((Watermark.BlobDurable)message).FileId);
            openTempFiles.Sample();
        }
        var written = 0;
        while (written < blobCount * (blobBytes / chunkBytes))
        {
            await ExpectMsgAsync<BlobSaver.ChunkWritten>(Timeout);
            written++;
        }

        _output.WriteLine($"most temp files open at once: {openTempFiles.Most}, over {openTempFiles.Samples} samples");
        // The sealed blobs held, plus the one being written.
        Assert.InRange(openTempFiles.Most, 1, BlobSaver.MaxSealedNotDurable + 1);
        Assert.All(refs, blob => Assert.True(blobs.Verify(blob), $"blob {blob.FileId} is not in place with its bytes"));
        Assert.Equal(0, openTempFiles.Now());
    }

    /// <summary>The temp files of blobs being written or not yet placed: each an open file descriptor of the saver.</summary>
    private sealed class OpenFileCount(string directory)
    {
        private int _most;
        private int _samples;

        public int Most => Volatile.Read(ref _most);
        public int Samples => Volatile.Read(ref _samples);

        public int Now() => Directory.GetFiles(directory).Length;

        public void Sample()
        {
            var now = Now();
            Interlocked.Increment(ref _samples);
            int most;
            while (now > (most = Volatile.Read(ref _most)) && Interlocked.CompareExchange(ref _most, now, most) != most) { }
        }
    }

    /// <summary>
    /// A slow disk: holds each batch for <paramref name="delay"/> before the real flusher makes it durable, counting the
    /// temp files open when a batch arrives and when its delay is over, when the saver has had the longest to pile up.
    /// </summary>
    private sealed class SlowFlusher : ReceiveActor, IWithTimers
    {
        private sealed record DelayOver(BlobFlusher.MakeDurable Batch, IActorRef Saver);

        public SlowFlusher(Props flusher, TimeSpan delay, OpenFileCount open)
        {
            var real = Context.ActorOf(flusher, "real");
            Receive<BlobFlusher.MakeDurable>(batch =>
            {
                open.Sample();
                Timers.StartSingleTimer(batch, new DelayOver(batch, Sender), delay);
            });
            Receive<DelayOver>(over =>
            {
                open.Sample();
                real.Tell(over.Batch, over.Saver);
            });
        }

        public ITimerScheduler Timers { get; set; } = null!;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (!disposing) return;
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
