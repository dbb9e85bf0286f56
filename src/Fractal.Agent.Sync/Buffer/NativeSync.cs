using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Fractal.Agent.Sync.Buffer;

/// <summary>fsync(2) on a file the buffer does not own the stream of (LiteDB holds that one).</summary>
internal static partial class NativeSync
{
    public static void Fsync(SafeFileHandle handle)
    {
        // fsync applies to the file, not the descriptor: flushing through our own read-only
        // handle makes LiteDB's writes through its handle durable.
        if (fsync(handle) != 0)
        {
            throw new IOException($"fsync failed with errno {Marshal.GetLastPInvokeError()}.");
        }
    }

    /// <summary>Flushes a whole file to the device.</summary>
    public static void FsyncFile(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        Fsync(handle);
    }

    /// <summary>Makes renames in <paramref name="directory"/> durable.</summary>
    public static void FsyncDirectory(string directory)
    {
        // .NET cannot open a directory as a file handle; open(2) read-only can.
        var fd = open(directory, 0);
        if (fd < 0)
        {
            throw new IOException($"open({directory}) failed with errno {Marshal.GetLastPInvokeError()}.");
        }

        try
        {
            if (fsync(fd) != 0)
            {
                throw new IOException($"fsync({directory}) failed with errno {Marshal.GetLastPInvokeError()}.");
            }
        }
        finally
        {
            _ = close(fd);
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc")]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(SafeFileHandle fd);
}
