namespace Fractal.CloudHub.DataLake;

/// <summary>
/// Where the data lake's files live: a local directory (the embedded default) or an
/// S3-compatible object store. Keys are '/'-separated relative paths.
/// </summary>
public interface IBlobStore
{
    /// <summary>Writes a whole object atomically: readers see either nothing or all of it.</summary>
    Task PutAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken);

    /// <summary>Lists keys under a prefix, in ordinal order.</summary>
    IAsyncEnumerable<string> ListAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>Reads a whole object; throws <see cref="FileNotFoundException"/> when it does not exist.</summary>
    Task<byte[]> GetAsync(string key, CancellationToken cancellationToken);
}
