namespace Fractal.Learning.Federated;

/// <summary>
/// Where and how coordinate-wise robust aggregators (median, trimmed mean) keep updates.
/// </summary>
/// <remarks>
/// An exact coordinate-wise median needs all N values of a coordinate at once, so it cannot be
/// computed in a single streaming pass in O(model) memory. The updates are therefore appended to
/// one spool file on disk as they arrive (N x model floats of disk), and aggregation reads them
/// back one coordinate chunk at a time: RAM stays at one model-sized result plus a chunk buffer
/// of at most <see cref="ChunkBufferFloats"/> floats, whatever N is. Disk use is what grows with N.
/// </remarks>
public sealed class SpoolingOptions
{
    /// <summary>Directory for spool files (deleted when the session is disposed).</summary>
    /// <value>The default value is the system temporary directory.</value>
    public string? Directory { get; init; }

    /// <summary>Floats held in memory while aggregating one chunk of coordinates across all updates.</summary>
    /// <value>The default value is 4,194,304 (16 MiB).</value>
    public int ChunkBufferFloats { get; init; } = 4 * 1024 * 1024;
}
