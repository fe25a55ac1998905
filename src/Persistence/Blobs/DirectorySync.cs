using System.Runtime.InteropServices;

namespace ClusterNode.Persistence.Blobs;

/// <summary>
/// fsync of a directory, which .NET does not offer: a rename is only durable once the directory entry is.
/// </summary>
public static partial class DirectorySync
{
    private const int ReadOnly = 0;
    private const int DirectoryFlag = 0x10000; // O_DIRECTORY on Linux

    public static void Sync(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        var fd = open(directory, ReadOnly | (OperatingSystem.IsLinux() ? DirectoryFlag : 0));
        if (fd < 0) throw new IOException($"cannot open directory '{directory}' to fsync it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (fsync(fd) != 0) throw new IOException($"fsync of directory '{directory}' failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            close(fd);
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    /// <summary>
    /// syncfs of the file system holding <paramref name="directory"/>: every dirty page and inode of it is written
    /// and flushed in one call, which makes a batch of files durable far faster than one fsync each. Linux only;
    /// it reports write-back errors since Linux 5.8.
    /// </summary>
    public static void SyncFileSystem(string directory)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("syncfs is Linux only; use blob.durability = fsync");
        var fd = open(directory, ReadOnly | DirectoryFlag);
        if (fd < 0) throw new IOException($"cannot open directory '{directory}' to syncfs it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (syncfs(fd) != 0) throw new IOException($"syncfs of the file system of '{directory}' failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            close(fd);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int syncfs(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
