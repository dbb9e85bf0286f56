using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;

namespace Fractal.CloudHub.DataLake;

/// <summary>
/// A blob store over a local directory, the hub's embedded default. Writes are atomic and
/// durable: the content goes to a hidden temporary file in the target directory, is flushed to
/// disk, renamed over the final name (rename(2) is atomic within one file system) and the
/// directory is flushed so the rename itself survives power loss. A reader therefore sees either
/// no object or all of it, never a prefix.
/// </summary>
public sealed class LocalDirectoryBlobStore : IBlobStore
{
    // Temporary files start with this; object keys may not, so listings can skip them and a
    // crash mid-write leaves only ignorable debris (removed on the next start).
    private const char HiddenPrefix = '.';
    private const string TempSuffix = ".tmp";

    private readonly ILogger<LocalDirectoryBlobStore> _logger;

    /// <summary>Creates a store rooted at <paramref name="root"/>, creating the directory if needed.</summary>
    public LocalDirectoryBlobStore(string root, ILogger<LocalDirectoryBlobStore> logger)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;
        Root = Path.GetFullPath(root);
        Directory.CreateDirectory(Root);
        RemoveStaleTemporaryFiles();
    }

    /// <summary>The absolute root directory.</summary>
    public string Root { get; }

    /// <inheritdoc />
    public async Task PutAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken)
    {
        var path = ResolveKey(key);
        var directory = Path.GetDirectoryName(path)!;
        EnsureDirectoryDurably(directory);

        var temp = Path.Combine(directory, $"{HiddenPrefix}{Path.GetFileName(path)}.{Guid.NewGuid():N}{TempSuffix}");
        try
        {
            var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1, FileOptions.Asynchronous);
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync(content, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }

        // The object is visible now; flushing the directory makes the rename durable. A failure
        // here is reported to the caller, which must then treat the write as "maybe done".
        DirectorySync.Flush(directory);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<string> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        await Task.Yield();

        // Enumerate from the deepest directory the prefix names, then filter on the full prefix.
        var slash = prefix.LastIndexOf('/');
        var directoryPart = slash < 0 ? string.Empty : prefix[..slash];
        if (directoryPart.Length > 0)
        {
            ValidateSegments(directoryPart, nameof(prefix));
        }

        var start = directoryPart.Length == 0 ? Root : Path.Combine(Root, directoryPart.Replace('/', Path.DirectorySeparatorChar));
        if (!Directory.Exists(start))
        {
            yield break;
        }

        var keys = new List<string>();
        foreach (var file in Directory.EnumerateFiles(start, "*", SearchOption.AllDirectories))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (Path.GetFileName(file).StartsWith(HiddenPrefix))
            {
                continue;
            }

            var key = Path.GetRelativePath(Root, file).Replace(Path.DirectorySeparatorChar, '/');
            if (key.StartsWith(prefix, StringComparison.Ordinal))
            {
                keys.Add(key);
            }
        }

        keys.Sort(StringComparer.Ordinal);
        foreach (var key in keys)
        {
            yield return key;
        }
    }

    /// <inheritdoc />
    public async Task<byte[]> GetAsync(string key, CancellationToken cancellationToken)
    {
        var path = ResolveKey(key);
        try
        {
            return await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (DirectoryNotFoundException ex)
        {
            throw new FileNotFoundException($"Blob '{key}' does not exist.", key, ex);
        }
    }

    private string ResolveKey(string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ValidateSegments(key, nameof(key));
        return Path.Combine(Root, key.Replace('/', Path.DirectorySeparatorChar));
    }

    // Keys are relative '/'-separated paths; anything that could leave the root or collide with
    // temporary files is refused.
    private static void ValidateSegments(string key, string paramName)
    {
        foreach (var segment in key.Split('/'))
        {
            if (segment.Length == 0 || segment == "." || segment == ".." || segment[0] == HiddenPrefix
                || segment.Contains('\\', StringComparison.Ordinal) || segment.Contains('\0', StringComparison.Ordinal))
            {
                throw new ArgumentException($"Invalid blob key '{key}': segment '{segment}' is not allowed.", paramName);
            }
        }
    }

    // A new directory entry is only durable once its parent is flushed, so create missing
    // ancestors one by one and flush each parent.
    private void EnsureDirectoryDurably(string directory)
    {
        if (Directory.Exists(directory))
        {
            return;
        }

        var parent = Path.GetDirectoryName(directory);
        if (parent is not null && !string.Equals(directory, Root, StringComparison.Ordinal))
        {
            EnsureDirectoryDurably(parent);
        }

        Directory.CreateDirectory(directory);
        if (parent is not null)
        {
            DirectorySync.Flush(parent);
        }
    }

    private void RemoveStaleTemporaryFiles()
    {
        foreach (var file in Directory.EnumerateFiles(Root, $"{HiddenPrefix}*{TempSuffix}", SearchOption.AllDirectories))
        {
            DataLakeLog.StaleTemporaryFileRemoved(_logger, file);
            TryDelete(file);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: a leftover hidden temporary file is ignored by listings and removed on the next start.
        }
        catch (UnauthorizedAccessException)
        {
            // Same as above.
        }
    }
}
