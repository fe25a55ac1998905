namespace ClusterNode.Actors.Serialization;

/// <summary>A replication message that crosses the network; serialized by <see cref="ReplicationSerializer"/>.</summary>
public interface IReplicationWireMessage;

/// <summary>An event or snapshot the cursor store persists; serialized by <see cref="ReplicationSerializer"/>.</summary>
public interface IReplicationPersistedMessage;
