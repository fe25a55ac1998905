using LightningDB;

namespace ClusterNode.Persistence.Journal;

/// <summary>
/// The LMDB environment under the journal or snapshot store has reached its map size. Nothing of the failed
/// transaction was stored; the operator must raise <c>map-size</c> (or free space by deleting events and
/// snapshots) before writes can succeed again.
/// </summary>
public sealed class LmdbMapFullException(string message) : Exception(message)
{
    /// <summary>
    /// The one place where a write result code of the persistence plugins becomes an exception: MDB_MAP_FULL gets
    /// a message saying what to change, every other failure LightningDB's own exception.
    /// </summary>
    /// <param name="code">The result of a put, delete or commit.</param>
    /// <param name="operation">What was being written, e.g. "writing 3 events".</param>
    public static void ThrowIfFailed(MDBResultCode code, string operation, LmdbPluginSettings settings)
    {
        if (code == MDBResultCode.Success) return;
        if (code == MDBResultCode.MapFull)
            throw new LmdbMapFullException(
                $"LMDB environment '{settings.Directory}' is full ({settings.MapSizeBytes} bytes) while {operation}; " +
                $"nothing was stored. Raise {settings.SectionPath}.map-size or delete old events and snapshots.");
        code.ThrowOnError();
    }
}
