namespace ClusterNode.Actors.Telemetry;

/// <summary>
/// Why a leg (the receiver of one peer's stream) started its subscription over: the <c>reason</c> tag of
/// <c>cluster_node.peer.resubscriptions</c>, a short closed set so that a metric's series stay few.
/// </summary>
public enum LegProblem
{
    BlobSaveFailed,
    FrameRefused,
    LostInTransit,
    Silence,
    PeerMoved,
    PeerRestarted,
    ApplyFailed,
    StoreFull,
    ChildFailed,
    SenderStopped,
    SubscriptionRefused,
}

public static class LegProblems
{
    public static readonly LegProblem[] All = Enum.GetValues<LegProblem>();

    /// <summary>The tag value: kebab-case, as Prometheus label values usually are.</summary>
    public static string Tag(this LegProblem problem) => problem switch
    {
        LegProblem.BlobSaveFailed => "blob-save-failed",
        LegProblem.FrameRefused => "frame-refused",
        LegProblem.LostInTransit => "lost-in-transit",
        LegProblem.Silence => "silence",
        LegProblem.PeerMoved => "peer-moved",
        LegProblem.PeerRestarted => "peer-restarted",
        LegProblem.ApplyFailed => "apply-failed",
        LegProblem.StoreFull => "store-full",
        LegProblem.ChildFailed => "child-failed",
        LegProblem.SenderStopped => "sender-stopped",
        _ => "subscription-refused",
    };
}
