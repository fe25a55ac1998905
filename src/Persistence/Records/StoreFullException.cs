namespace ClusterNode.Persistence.Records;

/// <summary>
/// The record store has no room for a write: its LMDB map is full (<c>cluster-node.lmdb.map-size</c>) or the disk under
/// it is. Nothing of the write was stored, and retrying cannot succeed until an operator makes room (HTTP: 507).
/// </summary>
public sealed class StoreFullException(string message) : Exception(message)
{
    public static StoreFullException MapFull(long mapSizeBytes) =>
        new($"the record store is full: the LMDB map of {mapSizeBytes} bytes is used up, and nothing of this write was stored; " +
            "raise cluster-node.lmdb.map-size");

    public static StoreFullException DiskFull() =>
        new("the record store is full: no space left on the disk of its LMDB environment (under cluster-node.data-dir), " +
            "and nothing of this write was stored; free space on that disk");

    /// <summary>
    /// Whether <paramref name="error"/> is a write refused for lack of disk space (ENOSPC, or a quota: EDQUOT), as .NET
    /// reports it: on Unix the errno is the IOException's HResult, on Windows the Win32 error within an HRESULT.
    /// </summary>
    public static bool IsOutOfDiskSpace(Exception error) =>
        error is IOException && IsOutOfDiskSpaceCode(OperatingSystem.IsWindows() ? error.HResult & 0xFFFF : error.HResult);

    /// <summary>An errno (Unix) or Win32 error (Windows) that says the disk or the user's quota is full; LMDB returns these too.</summary>
    public static bool IsOutOfDiskSpaceCode(int code) =>
        OperatingSystem.IsWindows() ? code is ErrorHandleDiskFull or ErrorDiskFull
        : code == Enospc || code == (OperatingSystem.IsLinux() ? LinuxEdquot : BsdEdquot);

    private const int Enospc = 28;
    private const int LinuxEdquot = 122;
    private const int BsdEdquot = 69;
    private const int ErrorHandleDiskFull = 39;
    private const int ErrorDiskFull = 112;
}
