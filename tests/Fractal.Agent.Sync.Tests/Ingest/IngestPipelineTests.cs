using System.Text;
using Fractal.Agent.Sync.Buffer;
using Fractal.Agent.Sync.Ingest;
using Fractal.Agent.Sync.Metrics;
using Fractal.Agent.Sync.Tests.Buffer;
using Fractal.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fractal.Agent.Sync.Tests.Ingest;

public sealed class IngestPipelineTests : IDisposable
{
    private readonly TestDirectory _dir = new("pipeline");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Accepted_SubscriberThrows_ReadingIsStillAcceptedAndOtherSubscribersRun()
    {
        var streams = new Dictionary<string, StreamPolicy> { ["s"] = new StreamPolicy() };
        var metrics = new SyncMetrics();
        await using var buffer = TestBuffers.Open(_dir.Path, streams, metrics: metrics);
        var pipeline = new IngestPipeline(buffer, new StreamCatalog(streams), metrics, NullLogger<IngestPipeline>.Instance);
        var seen = new List<string>();
        pipeline.Accepted += _ => throw new InvalidOperationException("a broken subscriber");
        pipeline.Accepted += r => seen.Add(r.SourceId!);

        var result = await pipeline.SubmitAsync(new IngestMessage("fractal/sensors/s", Encoding.UTF8.GetBytes("""{"values":[1],"id":"a"}""")), CancellationToken.None);

        // The reading was committed before the subscribers ran: it is accepted, and so acknowledged.
        Assert.Equal(IngestResult.Accepted, result);
        Assert.Equal(["a"], seen);
        Assert.Equal(1, buffer.GetStats().BufferedRecords);
    }
}
