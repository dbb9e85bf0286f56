using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Fractal.Learning.Federated;

/// <summary>
/// Spools updates to a disk file and reduces them coordinate by coordinate, a chunk at a time.
/// </summary>
internal abstract class SpooledCoordinateSession : AggregationSessionBase
{
    private readonly SafeFileHandle _spool;
    private readonly int _chunkBufferFloats;

    protected SpooledCoordinateSession(int parameterCount, SpoolingOptions options)
        : base(parameterCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.ChunkBufferFloats);
        _chunkBufferFloats = options.ChunkBufferFloats;
        var directory = options.Directory ?? Path.GetTempPath();
        System.IO.Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"fractal-aggregate-{Guid.NewGuid():N}.spool");

        // DeleteOnClose: a crashed hub leaves no spool behind; no other process needs the file.
        _spool = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, FileOptions.DeleteOnClose);
    }

    protected override void AddCore(ReadOnlySpan<float> delta, long sampleCount, int index)
    {
        RandomAccess.Write(_spool, MemoryMarshal.AsBytes(delta), (long)index * ParameterCount * sizeof(float));
    }

    protected override void CompleteCore(Span<float> aggregate)
    {
        var n = UpdateCount;
        var chunk = Math.Max(1, Math.Min(ParameterCount, _chunkBufferFloats / n));
        var buffer = new float[(long)chunk * n];
        var column = new float[n];

        for (var start = 0; start < ParameterCount; start += chunk)
        {
            var length = Math.Min(chunk, ParameterCount - start);
            for (var u = 0; u < n; u++)
            {
                var target = MemoryMarshal.AsBytes(buffer.AsSpan(u * chunk, length));
                var offset = (((long)u * ParameterCount) + start) * sizeof(float);
                var read = 0;
                while (read < target.Length)
                {
                    var got = RandomAccess.Read(_spool, target[read..], offset + read);
                    if (got == 0)
                    {
                        throw new IOException("The aggregation spool file ended early; was it truncated by another process?");
                    }

                    read += got;
                }
            }

            for (var c = 0; c < length; c++)
            {
                for (var u = 0; u < n; u++)
                {
                    column[u] = buffer[(u * chunk) + c];
                }

                aggregate[start + c] = Reduce(column);
            }
        }
    }

    /// <summary>Reduces the N values of one coordinate; may reorder <paramref name="values"/>.</summary>
    protected abstract float Reduce(Span<float> values);

    protected override void DisposeCore() => _spool.Dispose();
}
