namespace ClusterNode.Persistence.Records;

/// <summary>The limit a candidate record breaks, and a message naming the limit, its value and the record's.</summary>
public sealed record RecordLimitViolation(RecordLimitKind Kind, string Message);
