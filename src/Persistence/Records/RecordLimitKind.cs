namespace ClusterNode.Persistence.Records;

/// <summary>Which of the <see cref="RecordLimits"/> a record breaks; the HTTP API answers each with its own status.</summary>
public enum RecordLimitKind
{
    /// <summary>A table, id or blob field name (or a blob's file id or the version's origin) a follower would refuse.</summary>
    Name,

    /// <summary>More JSON data than <c>cluster-node.record.max-size</c>.</summary>
    DataSize,

    /// <summary>More blob fields than <c>cluster-node.record.max-blob-fields</c>.</summary>
    BlobFields,

    /// <summary>A blob larger than <c>cluster-node.blob.max-size</c>.</summary>
    BlobSize,

    /// <summary>The record as a replication frame carries it is larger than a frame may be.</summary>
    FrameSize,
}
