using Akka.Actor;

namespace ClusterNode.Actors.FaultInjection;

/// <summary>
/// Receive-side blob save faults for tests and drills (<c>cluster-node.fault-injection.blob-save</c>), injected
/// deterministically by a wrapper around the blob saver chosen at start-up: the production saver has no fault code.
/// </summary>
/// <param name="Skip">Saves that succeed before failures start.</param>
/// <param name="FailCount">Saves that then fail; the ones after succeed again.</param>
/// <param name="ChunkDelay">Pause after each chunk written (a slow disk), taken without blocking a thread.</param>
public sealed record BlobSaveFaults(int Skip, int FailCount, TimeSpan ChunkDelay)
{
    public static readonly BlobSaveFaults None = new(0, 0, TimeSpan.Zero);

    /// <summary>The saver to run: <paramref name="saver"/> itself, or wrapped to fail and slow down as configured.</summary>
    public Props Wrap(Props saver, IActorRef watermark) =>
        this == None ? saver : Props.Create(() => new FaultyBlobSaverActor(saver, watermark, this)).WithDispatcher(saver.Dispatcher);
}
