namespace ClusterNode.Persistence.Records;

/// <summary>
/// A local write would make a record that a member of the cluster would refuse to take from the stream (see
/// <see cref="RecordLimits"/>). It is refused before anything is written; retrying the same write cannot succeed.
/// </summary>
public sealed class RecordLimitExceededException(RecordLimitViolation violation) : InvalidOperationException(violation.Message)
{
    public RecordLimitViolation Violation { get; } = violation;
    public RecordLimitKind Kind => Violation.Kind;
}
