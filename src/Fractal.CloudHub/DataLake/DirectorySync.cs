using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Fractal.CloudHub.DataLake;

/// <summary>
/// fsync(2) on a directory, which .NET does not expose: FileStream refuses to open directories.
/// Needed so a rename or a new directory entry survives power loss.
/// </summary>
internal static partial class DirectorySync
{
    // O_RDONLY and O_CLOEXEC have these values on every Linux architecture .NET runs on; O_DIRECTORY
    // does not (x64 and arm64 differ), and opening a directory read-only needs no flag.
    private const int ReadOnly = 0;
    private const int CloseOnExec = 0x80000;

    public static void Flush(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            // Other platforms either flush metadata with the file (Windows) or are not deployment
            // targets; the rename is still atomic there.
            return;
        }

        var fd = Open(directory, ReadOnly | CloseOnExec);
        if (fd < 0)
        {
            throw new IOException($"Cannot open directory '{directory}' to flush it.", new Win32Exception(Marshal.GetLastPInvokeError()));
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory '{directory}' failed.", new Win32Exception(Marshal.GetLastPInvokeError()));
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static partial int Close(int fd);
}
