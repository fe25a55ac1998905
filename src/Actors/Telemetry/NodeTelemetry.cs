using Akka.Actor;

namespace ClusterNode.Actors.Telemetry;

/// <summary>
/// The node's <see cref="NodeMetrics"/> as an Akka extension, one per ActorSystem: the runtime attaches them before any
/// actor starts (<see cref="NodeRuntime"/>), actors find them with <see cref="Of"/>. An ActorSystem that no runtime
/// attached (a spec of one actor) gets metrics reported nowhere.
/// </summary>
public sealed class NodeTelemetry : IExtension
{
    private NodeMetrics _metrics = NodeMetrics.Detached();

    public NodeMetrics Metrics => Volatile.Read(ref _metrics);

    public void Attach(NodeMetrics metrics) => Volatile.Write(ref _metrics, metrics);

    public static NodeTelemetry Get(ActorSystem system) => system.WithExtension<NodeTelemetry, NodeTelemetryProvider>();

    public static NodeMetrics Of(ActorSystem system) => Get(system).Metrics;
}

public sealed class NodeTelemetryProvider : ExtensionIdProvider<NodeTelemetry>
{
    public override NodeTelemetry CreateExtension(ExtendedActorSystem system) => new();
}
