using Fractal.Agent.Sync.Uplinks;
using Fractal.Contracts.Ingest;

namespace Fractal.Agent.Sync.Tests.Uplinks;

/// <summary>
/// An uplink whose far side is "down" until <see cref="Open"/>: calls wait. Used where the test
/// is about the agent's side (acknowledgements, quota), not about a particular transport.
/// </summary>
internal sealed class GatedTransport : IUplinkTransport
{
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _delivered;

    public string Name => "gate";

    public long Delivered => Interlocked.Read(ref _delivered);

    public List<LossReport> Losses { get; } = [];

    public void Open() => _open.TrySetResult();

    public async Task SendBatchAsync(RecordBatch batch, CancellationToken cancellationToken)
    {
        await _open.Task.WaitAsync(cancellationToken);
        Interlocked.Add(ref _delivered, batch.Records.Count);
    }

    public async Task SendLossesAsync(LossReport report, CancellationToken cancellationToken)
    {
        await _open.Task.WaitAsync(cancellationToken);
        lock (Losses)
        {
            Losses.Add(report);
        }
    }
}
