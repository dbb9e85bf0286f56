using System.Buffers.Binary;
using Fractal.Agent.Sync.Buffer;
using Fractal.Agent.Sync.Identity;
using Fractal.Agent.Sync.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync.Tests.Buffer;

/// <summary>Builds real buffers on real files in a test's own directory.</summary>
internal static class TestBuffers
{
    public static DurableBuffer Open(
        string directory,
        IReadOnlyDictionary<string, StreamPolicy> streams,
        Action<BufferOptions>? configure = null,
        TimeProvider? time = null,
        SyncMetrics? metrics = null,
        params string[] uplinks)
    {
        var options = new BufferOptions { QuotaBytes = 64L * 1024 * 1024, FlushToDevice = true };
        configure?.Invoke(options);
        var identity = new NodeIdentity(Options.Create(new AgentOptions { StateDirectory = directory, NodeId = "node-test" }));
        var buffer = new DurableBuffer(Options.Create(options), new StreamCatalog(streams), identity, time ?? TimeProvider.System, metrics ?? new SyncMetrics(), NullLogger<DurableBuffer>.Instance);
        foreach (var uplink in uplinks)
        {
            buffer.RegisterUplink(uplink);
        }

        buffer.Open();
        return buffer;
    }

    public static AppendRequest Reading(string stream, float value, int? label = null, string? id = null, int size = 1)
    {
        var bytes = new byte[size * 4];
        for (var i = 0; i < size; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), value);
        }

        return new AppendRequest(stream, [size], bytes, label, id);
    }

    public static float FirstValue(BufferedRecord record) => BinaryPrimitives.ReadSingleLittleEndian(record.Values);
}
