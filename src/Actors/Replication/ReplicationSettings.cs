using Akka.Configuration;
using ClusterNode.Actors.FaultInjection;
using ClusterNode.Persistence.Records;

namespace ClusterNode.Actors.Replication;

/// <summary>How a batch of received blobs is made durable before they are renamed into place.</summary>
public enum BlobDurability
{
    /// <summary>One syncfs for the whole batch (Linux): many times faster than a fsync per file on a dedicated disk,
    /// but it also flushes whatever else is dirty on that file system.</summary>
    Syncfs,

    /// <summary>One fsync per blob file: portable, and touches nothing but our files.</summary>
    Fsync,
}

/// <summary>
/// Everything the replication pipeline reads from the <c>cluster-node</c> HOCON section, read once and
/// validated at start-up; a bad value throws a <see cref="ConfigurationException"/> naming the key.
/// </summary>
public sealed record ReplicationSettings(
    string DataDirectory,
    string NodeId,
    long MapSizeBytes,
    long AuditRetentionEntries,
    int RecordMaxBytes,
    int MaxBlobFields,
    long WindowBytes,
    int FrameTargetBytes,
    int ChunkSizeBytes,
    long BlobMaxSizeBytes,
    int MaxRemoteFrameBytes,
    TimeSpan HeartbeatInterval,
    TimeSpan IdleTimeout,
    TimeSpan ResubscribeBackoff,
    TimeSpan AwaitedBlobPoll,
    int CursorSnapshotEvery,
    BlobSaveFaults Faults,
    BlobDurability BlobDurability,
    string IoDispatcher,
    TimeSpan ClockMaxOffset,
    TimeSpan PeerCheckInterval,
    TimeSpan RepairTimeout,
    TimeSpan LostRetryInterval)
{
    /// <summary>Room left in a remote message for the envelope and our own headers.</summary>
    public const int EnvelopeAllowanceBytes = 4096;

    public static ReplicationSettings Create(Config config)
    {
        config = config.WithDefaults();
        var node = config.GetConfig("cluster-node") ?? throw new ConfigurationException("missing HOCON section 'cluster-node'");

        var settings = new ReplicationSettings(
            DataDirectory: Text(node, "data-dir", required: true),
            NodeId: Text(node, "node-id", required: false),
            MapSizeBytes: Bytes(node, "lmdb.map-size", min: 1L << 20, max: 1L << 44),
            AuditRetentionEntries: Long(node, "audit-log.retention", min: 1),
            // The storage format holds no more than RecordCodec.MaxDataBytes of data.
            RecordMaxBytes: (int)Bytes(node, "record.max-size", min: 1024, max: RecordCodec.MaxDataBytes),
            // A record's blob count is 16 bits on disk and on the wire.
            MaxBlobFields: (int)Long(node, "record.max-blob-fields", min: 0, max: ushort.MaxValue),
            WindowBytes: Bytes(node, "replication.window", min: 64 * 1024, max: 1L << 32),
            FrameTargetBytes: (int)Bytes(node, "replication.frame-size", min: 1024, max: 64L << 20),
            ChunkSizeBytes: (int)Bytes(node, "blob.chunk-size", min: 1024, max: 64L << 20),
            BlobMaxSizeBytes: Bytes(node, "blob.max-size", min: 1, max: 1L << 40),
            MaxRemoteFrameBytes: (int)Bytes(config, "akka.remote.dot-netty.tcp.maximum-frame-size", min: 32 * 1024, max: int.MaxValue),
            HeartbeatInterval: Duration(node, "replication.heartbeat-interval"),
            IdleTimeout: Duration(node, "replication.idle-timeout"),
            ResubscribeBackoff: Duration(node, "replication.resubscribe-backoff"),
            AwaitedBlobPoll: Duration(node, "replication.awaited-blob-poll"),
            CursorSnapshotEvery: (int)Long(node, "replication.cursor-snapshot-every", min: 1),
            Faults: new BlobSaveFaults(
                (int)Long(node, "fault-injection.blob-save.skip", min: 0),
                (int)Long(node, "fault-injection.blob-save.fail-count", min: 0),
                Duration(node, "fault-injection.blob-save.chunk-delay", allowZero: true)),
            BlobDurability: Durability(node),
            IoDispatcher: "cluster-node.io-dispatcher",
            ClockMaxOffset: Duration(node, "clock.max-offset"),
            PeerCheckInterval: Duration(node, "replication.peer-check-interval"),
            RepairTimeout: Duration(node, "repair.timeout"),
            LostRetryInterval: Duration(node, "repair.lost-retry-interval"));

        if (settings.NodeId.Length > 0 && !RecordStore.IsValidNodeId(settings.NodeId))
            throw new ConfigurationException($"cluster-node.node-id: '{settings.NodeId}' is not 1 to 64 letters, digits, '-', '_' or '.'");
        var payloadLimit = settings.MaxRemoteFrameBytes - EnvelopeAllowanceBytes;
        if (settings.ChunkSizeBytes > payloadLimit)
            throw new ConfigurationException($"cluster-node.blob.chunk-size: {settings.ChunkSizeBytes} bytes does not fit akka.remote.dot-netty.tcp.maximum-frame-size ({settings.MaxRemoteFrameBytes}) with {EnvelopeAllowanceBytes} bytes of envelope");
        if (settings.RecordMaxBytes > payloadLimit)
            throw new ConfigurationException($"cluster-node.record.max-size: {settings.RecordMaxBytes} bytes does not fit akka.remote.dot-netty.tcp.maximum-frame-size ({settings.MaxRemoteFrameBytes})");
        // The data and field limits alone must keep every record within a frame, or a record this node accepts could
        // be one no peer can receive.
        var largestRecordBytes = RecordLimits.FrameBytes(RecordLimits.LargestRecord(settings.RecordMaxBytes, settings.MaxBlobFields));
        if (largestRecordBytes > payloadLimit)
            throw new ConfigurationException($"cluster-node.record.max-blob-fields: {settings.MaxBlobFields} blob fields with names of {Names.MaxLength} characters " +
                $"and cluster-node.record.max-size ({settings.RecordMaxBytes} bytes) of data make a record of {largestRecordBytes} bytes, over the " +
                $"{payloadLimit} bytes a replication frame carries (akka.remote.dot-netty.tcp.maximum-frame-size {settings.MaxRemoteFrameBytes} " +
                $"less {EnvelopeAllowanceBytes}); lower either, or raise the frame size");
        if (settings.FrameTargetBytes > payloadLimit)
            throw new ConfigurationException($"cluster-node.replication.frame-size: {settings.FrameTargetBytes} bytes does not fit akka.remote.dot-netty.tcp.maximum-frame-size ({settings.MaxRemoteFrameBytes})");
        if (settings.WindowBytes < 2L * settings.ChunkSizeBytes)
            throw new ConfigurationException($"cluster-node.replication.window: {settings.WindowBytes} bytes must hold at least two blob chunks ({settings.ChunkSizeBytes} bytes each)");
        return settings;
    }

    public RecordStoreSettings Store => new(DataDirectory, NodeId, MapSizeBytes, AuditRetentionEntries, Limits, (long)ClockMaxOffset.TotalMilliseconds);

    /// <summary>What this node accepts in one record: what it can itself receive from a peer.</summary>
    public RecordLimits Limits => new(RecordMaxBytes, MaxBlobFields, BlobMaxSizeBytes, MaxFramePayloadBytes);

    /// <summary>The largest frame payload the sender may build: a frame never outgrows a remote message.</summary>
    public int MaxFramePayloadBytes => MaxRemoteFrameBytes - EnvelopeAllowanceBytes;

    private static string Text(Config config, string key, bool required)
    {
        string? value;
        try { value = config.GetString(key, null); }
        catch (Exception e) { throw new ConfigurationException($"cluster-node.{key}: not a string ({e.Message})"); }
        if (required && string.IsNullOrWhiteSpace(value)) throw new ConfigurationException($"cluster-node.{key} must be set");
        return value ?? "";
    }

    private static long Long(Config config, string key, long min, long max = long.MaxValue)
    {
        long value;
        try { value = config.GetLong(key); }
        catch (Exception e) { throw new ConfigurationException($"cluster-node.{key}: not a whole number ({e.Message})"); }
        if (value < min) throw new ConfigurationException($"cluster-node.{key}: {value} is below the minimum {min}");
        if (value > max) throw new ConfigurationException($"cluster-node.{key}: {value} is above the maximum {max}");
        return value;
    }

    // Internal: the scrub's settings (BlobScrub.Settings) read the same section the same way.
    internal static long Bytes(Config config, string key, long min, long max)
    {
        long? value;
        try { value = config.GetByteSize(key); }
        catch (Exception e) { throw new ConfigurationException($"{Qualified(config, key)}: not a size such as 64 KiB ({e.Message})"); }
        if (value is null) throw new ConfigurationException($"{Qualified(config, key)} must be set");
        if (value < min || value > max) throw new ConfigurationException($"{Qualified(config, key)}: {value} bytes is outside {min}..{max}");
        return value.Value;
    }

    internal static TimeSpan Duration(Config config, string key, bool allowZero = false)
    {
        TimeSpan value;
        try { value = config.GetTimeSpan(key, null, allowInfinite: false); }
        catch (Exception e) { throw new ConfigurationException($"cluster-node.{key}: not a duration such as 500ms ({e.Message})"); }
        if (value < TimeSpan.Zero || (!allowZero && value == TimeSpan.Zero))
            throw new ConfigurationException($"cluster-node.{key}: {value} must be {(allowZero ? "zero or more" : "positive")}");
        return value;
    }

    private static BlobDurability Durability(Config node)
    {
        var value = Text(node, "blob.durability", required: true);
        return value switch
        {
            "syncfs" when OperatingSystem.IsLinux() => BlobDurability.Syncfs,
            "syncfs" => throw new ConfigurationException("cluster-node.blob.durability: syncfs is Linux only; use fsync"),
            "fsync" => BlobDurability.Fsync,
            _ => throw new ConfigurationException($"cluster-node.blob.durability: '{value}' is neither syncfs nor fsync"),
        };
    }

    private static string Qualified(Config config, string key) => key.StartsWith("akka.", StringComparison.Ordinal) ? key : $"cluster-node.{key}";
}
