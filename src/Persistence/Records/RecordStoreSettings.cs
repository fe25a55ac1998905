namespace ClusterNode.Persistence.Records;

/// <param name="DataDirectory">Holds the LMDB environment (lmdb/) and the blob files (blobs/).</param>
/// <param name="NodeId">Empty: made on first start and kept in the data directory.</param>
/// <param name="MapSizeBytes">LMDB's map size: the most the record store can hold.</param>
/// <param name="AuditRetentionEntries">How many audit entries are kept; a peer whose cursor is older must copy.</param>
/// <param name="Limits">What a local write may make of a record; null: only what the format can hold (<see cref="RecordLimits.Format"/>).</param>
/// <param name="MaxClockOffsetMs">How far a replicated version may move this node's clock ahead of its wall clock.</param>
public sealed record RecordStoreSettings(
    string DataDirectory,
    string NodeId = "",
    long MapSizeBytes = 8L << 30,
    long AuditRetentionEntries = 10_000_000,
    RecordLimits? Limits = null,
    long MaxClockOffsetMs = 1000);
