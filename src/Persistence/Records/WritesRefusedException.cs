namespace ClusterNode.Persistence.Records;

/// <summary>
/// This node takes no local writes for now (its clock is too far from its peers', so its versions would be
/// wrong); the HTTP API answers 503 with Retry-After. Nothing was written.
/// </summary>
public sealed class WritesRefusedException(string reason) : InvalidOperationException($"this node refuses writes for now: {reason}");
