using Akka.Actor;
using Akka.Configuration;
using ClusterNode.Actors.Replication;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Actors.Blobs;

/// <summary>
/// Protocol of the blob scrub, one per node at <c>/user/scrub</c>: at most every <see cref="Settings.Interval"/> a pass
/// re-hashes every live record's blob files in key order at no more than <see cref="Settings.RateBytesPerSecond"/>,
/// reports a missing or corrupt file to the store (<see cref="RecordStore.ReportDamagedBlob"/>: the repair listens),
/// remembers a right one as verified (range reads are served from those), and deletes orphan files older than
/// <see cref="Settings.OrphanGrace"/>.
/// </summary>
public static class BlobScrub
{
    public const string Name = "scrub";

    public static Props Props(RecordStore store, Settings settings) =>
        Akka.Actor.Props.Create(() => new BlobScrubActor(store, settings)).WithDispatcher(settings.IoDispatcher);

    /// <param name="StepBytes">The most bytes read and hashed in one step (one message): the pace's granularity.</param>
    public sealed record Settings(TimeSpan Interval, long RateBytesPerSecond, TimeSpan OrphanGrace, int StepBytes, string IoDispatcher)
    {
        public const int MaxStepBytes = 1 << 20;

        /// <summary>Reads <c>cluster-node.scrub</c> once; a bad value throws a <see cref="ConfigurationException"/> naming the key.</summary>
        public static Settings Create(Config config)
        {
            var node = config.WithDefaults().GetConfig("cluster-node") ?? throw new ConfigurationException("missing HOCON section 'cluster-node'");
            var rate = ReplicationSettings.Bytes(node, "scrub.rate", min: 64 * 1024, max: 1L << 40);
            var grace = ReplicationSettings.Duration(node, "scrub.orphan-grace");
            // Under a second, an upload between its file's rename and its record's commit could be taken for an orphan.
            if (grace < TimeSpan.FromSeconds(1))
                throw new ConfigurationException($"cluster-node.scrub.orphan-grace: {grace} is under the minimum of 1s");
            return new Settings(
                Interval: ReplicationSettings.Duration(node, "scrub.interval"),
                RateBytesPerSecond: rate,
                OrphanGrace: grace,
                // A step never reads more than a second's worth, so a low rate still gets steady small reads.
                StepBytes: (int)Math.Min(MaxStepBytes, rate),
                IoDispatcher: "cluster-node.io-dispatcher");
        }
    }

    public interface ICommand;

    /// <summary>Answered with <see cref="Status"/>.</summary>
    public sealed record GetStatus : ICommand
    {
        public static readonly GetStatus Instance = new();
    }

    /// <summary>
    /// The scrub's progress and what it found since the node started.
    /// </summary>
    /// <param name="Running">A pass is under way; <paramref name="PassFiles"/> and <paramref name="PassBytes"/> are its progress.</param>
    /// <param name="LastPassFiles">Blob files the last completed pass checked (the current pass's expected total), or null.</param>
    /// <param name="LastPassDuration">How long the last completed pass took, from listing the directory to the last deletion.</param>
    /// <param name="BytesHashed">All bytes hashed by every pass since start.</param>
    /// <param name="Missing">Files found missing or of the wrong size (each reported for repair).</param>
    /// <param name="Corrupt">Files whose bytes did not hash to their record's sha256 (each reported for repair).</param>
    /// <param name="LostSkipped">Blobs skipped because no member holds them any more (marked lost).</param>
    /// <param name="NextPassAt">When the next pass starts, while none runs.</param>
    public sealed record Status(
        bool Running,
        long PassesCompleted,
        long PassFiles,
        long PassBytes,
        long? LastPassFiles,
        long? LastPassBytes,
        TimeSpan? LastPassDuration,
        long BytesHashed,
        long FilesVerified,
        long Missing,
        long Corrupt,
        long LostSkipped,
        long OrphansDeleted,
        DateTimeOffset? LastPassEndedAt,
        DateTimeOffset? NextPassAt);
}
