using System.Text.Json;
using System.Text.Json.Serialization;

namespace ClusterNode.Client;

/// <summary>A record as the node holds it: <c>GET /tables/{table}/records/{id}</c>, and the answer to a record or blob write.</summary>
/// <param name="Id">The record's id.</param>
/// <param name="Version">Its version (a hybrid-logical-clock timestamp with the origin node id); last writer wins.</param>
/// <param name="Data">The record's JSON object.</param>
/// <param name="Blobs">Its blobs by field: size and sha256.</param>
public sealed record Record(string Id, string Version, JsonElement Data, IReadOnlyDictionary<string, BlobInfo> Blobs)
{
    /// <summary>The data deserialized as <typeparamref name="T"/> (web defaults: camelCase, case-insensitive, unless <paramref name="options"/>).</summary>
    public T? DataAs<T>(JsonSerializerOptions? options = null) => Data.Deserialize<T>(options ?? JsonSerializerOptions.Web);
}

/// <summary>A blob of a record: its size in bytes and the sha256 of its bytes (lowercase hex).</summary>
public sealed record BlobInfo(long Size, string Sha256);

/// <summary>One record written by a batch: its id, the version it got and the node's sequence number of the write.</summary>
public sealed record WrittenRecord(string Id, string Version, long Sequence);

/// <summary>One record of a batch: its id and its data, which must serialize to a JSON object.</summary>
/// <param name="Id">The record's id.</param>
/// <param name="Data">The record's data.</param>
// The item's own names are the API's, whatever naming policy the client's JsonOptions has.
public sealed record BatchRecord<T>([property: JsonPropertyName("id")] string Id, [property: JsonPropertyName("data")] T Data);

/// <summary>
/// A blob to upload with a record (<see cref="ClusterNodeClient.PutRecordAsync{T}(string, string, T, IEnumerable{BlobUpload}, CancellationToken)"/>):
/// its field and a stream read from its current position to its end, never held in memory whole. The client does not
/// dispose it.
/// </summary>
public sealed record BlobUpload(string Field, Stream Content);

/// <summary>A blob of a batch: the record (by id, one of the batch's) and field it belongs to, and its bytes as a stream (not disposed by the client).</summary>
public sealed record BatchBlob(string Id, string Field, Stream Content);

/// <summary>
/// One record of <c>GET /tables/{table}/digest</c>: id, version and each blob field's sha256. In a deep digest a blob's
/// entry is what the node's file holds now: its sha256 when right, else <c>missing</c>, <c>corrupt</c> or <c>lost</c>.
/// </summary>
public sealed record DigestEntry(string Id, string Version, IReadOnlyDictionary<string, string> Blobs);

/// <summary>A member of the cluster as a node sees it (<c>GET /members</c>, and in <see cref="NodeStatus"/>).</summary>
/// <param name="Address">Its Akka address, e.g. <c>akka.tcp://cluster-node@127.0.0.1:4053</c>.</param>
/// <param name="Status">Its membership status (Joining, Up, Leaving, Down, ...).</param>
/// <param name="Reachable">Whether the node that answered can reach it now.</param>
/// <param name="Self">Whether it is the node that answered.</param>
public sealed record MemberInfo(string Address, string Status, bool Reachable, bool Self);

/// <summary><c>GET /status</c>: the node's id, its last write, its members and, per peer, how far its replication is.</summary>
/// <param name="NodeId">The node's stable id.</param>
/// <param name="LastSequence">The sequence number of its last local write.</param>
/// <param name="WritesRefused">Why the node refuses writes now (its clock), or null.</param>
/// <param name="Members">The cluster's members.</param>
/// <param name="Peers">One entry per peer this node follows.</param>
/// <param name="BlobRepair">Blobs being repaired from peers, repaired and lost; null while the node's replication restarts.</param>
/// <param name="Scrub">The background scrub's progress; null while the node's replication restarts.</param>
public sealed record NodeStatus(
    string NodeId,
    long LastSequence,
    string? WritesRefused,
    IReadOnlyList<MemberInfo> Members,
    IReadOnlyList<PeerStatus> Peers,
    BlobRepairStatus? BlobRepair,
    ScrubStatus? Scrub);

/// <summary>How far this node has replicated one peer's writes.</summary>
/// <param name="Peer">The peer's node id.</param>
/// <param name="Address">The peer's address now.</param>
/// <param name="Mode">The stream's mode (copying the peer's records, or streaming its audit log).</param>
/// <param name="Committed">The highest sequence of the peer's whose records are committed here.</param>
/// <param name="Durable">The highest sequence up to which every record and blob is durable here.</param>
/// <param name="PersistedCursor">The resume cursor on disk: where the stream resumes after a restart.</param>
/// <param name="OutstandingBlobs">Blobs received and not yet durable.</param>
/// <param name="BlobGap"><c>Committed - Durable</c>.</param>
/// <param name="Lag">The peer's last sequence minus the persisted cursor.</param>
/// <param name="LastProblem">The last problem of the stream, or null.</param>
/// <param name="ClockOffsetMs">The peer's wall clock minus this node's, as last measured, or null.</param>
/// <param name="ReceivedBytes">Bytes of the peer's frames and chunks received since this node started.</param>
public sealed record PeerStatus(
    string Peer,
    string Address,
    string Mode,
    long Committed,
    long Durable,
    long PersistedCursor,
    int OutstandingBlobs,
    long BlobGap,
    long Lag,
    string? LastProblem,
    long? ClockOffsetMs,
    long ReceivedBytes);

/// <summary>Blobs the node is repairing from peers, has repaired, and found lost everywhere.</summary>
public sealed record BlobRepairStatus(int Repairing, long Repaired, int Lost, long Unanswered);

/// <summary>The background scrub that re-hashes every blob file at a bounded rate.</summary>
public sealed record ScrubStatus(
    bool Running,
    long PassesCompleted,
    long BytesHashed,
    long FilesVerified,
    long Missing,
    long Corrupt,
    long LostSkipped,
    long OrphansDeleted,
    DateTimeOffset? LastPassEndedAt,
    DateTimeOffset? NextPassAt);

/// <summary>
/// <c>GET /health/ready</c>: whether the node is ready (an Up cluster member with its store open), and each check with
/// why it passes or fails.
/// </summary>
/// <param name="Status"><c>healthy</c>, <c>degraded</c> or <c>unhealthy</c>.</param>
/// <param name="Checks">Each readiness check by name.</param>
public sealed record NodeHealth(string Status, IReadOnlyDictionary<string, HealthCheck> Checks)
{
    /// <summary>True when the node is ready to serve (it answered 200: no readiness check unhealthy).</summary>
    [JsonIgnore]
    public bool IsReady => Status is "healthy" or "degraded";
}

/// <summary>One readiness check: <c>healthy</c> or <c>unhealthy</c>, and why.</summary>
public sealed record HealthCheck(string Status, string? Description);
