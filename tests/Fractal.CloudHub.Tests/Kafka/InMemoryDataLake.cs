using Fractal.CloudHub.DataLake;
using Fractal.Contracts.Ingest;

namespace Fractal.CloudHub.Tests.Kafka;

/// <summary>
/// An <see cref="IDataLake"/> double for consumer tests that focus on the consumer (commit after
/// write, dead letters, batching). Keeps the contract: drops records it already has.
/// </summary>
internal sealed class InMemoryDataLake : IDataLake
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Node, string Stream), SortedSet<ulong>> _records = [];
    private readonly HashSet<(string Node, ulong LedgerId)> _losses = [];
    private readonly List<(int Count, TaskCompletionSource Signal)> _waiters = [];
    private readonly List<(string Node, string Stream, ulong[] Sequences)> _calls = [];

    /// <summary>When set, AppendAsync waits on it (until cancelled) before storing anything.</summary>
    public Task? Gate { get; set; }

    /// <summary>How many AppendAsync calls fail with an IOException before calls succeed.</summary>
    public int FailuresToInject { get; set; }

    public TaskCompletionSource AppendEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<(string Node, string Stream, ulong[] Sequences)> CallsSnapshot()
    {
        lock (_lock)
        {
            return [.. _calls];
        }
    }

    public int FailedCalls { get; private set; }

    public int SucceededCalls { get; private set; }

    public int RecordCount
    {
        get
        {
            lock (_lock)
            {
                return _records.Values.Sum(s => s.Count);
            }
        }
    }

    public IReadOnlyList<ulong> Sequences(string node, string stream)
    {
        lock (_lock)
        {
            return _records.TryGetValue((node, stream), out var set) ? [.. set] : [];
        }
    }

    public int LossCount
    {
        get
        {
            lock (_lock)
            {
                return _losses.Count;
            }
        }
    }

    /// <summary>Completes once the lake holds at least <paramref name="count"/> records.</summary>
    public Task WhenRecordsAsync(int count)
    {
        lock (_lock)
        {
            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, signal));
            Release();
            return signal.Task;
        }
    }

    public async Task<LakeAppendResult> AppendAsync(string nodeId, string stream, IReadOnlyList<SensorRecord> records, CancellationToken cancellationToken)
    {
        AppendEntered.TrySetResult();
        if (Gate is { } gate)
        {
            await gate.WaitAsync(cancellationToken);
        }

        lock (_lock)
        {
            _calls.Add((nodeId, stream, records.Select(r => r.Sequence).ToArray()));
            if (FailuresToInject > 0)
            {
                FailuresToInject--;
                FailedCalls++;
                throw new IOException("injected lake failure");
            }

            if (!_records.TryGetValue((nodeId, stream), out var set))
            {
                _records[(nodeId, stream)] = set = [];
            }

            var accepted = records.Count(r => set.Add(r.Sequence));
            SucceededCalls++;
            Release();
            return new LakeAppendResult(accepted, records.Count - accepted);
        }
    }

    public Task<int> AppendLossesAsync(string nodeId, IReadOnlyList<LossEntry> entries, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return Task.FromResult(entries.Count(e => _losses.Add((nodeId, e.LedgerId))));
        }
    }

    private void Release()
    {
        var total = _records.Values.Sum(s => s.Count);
        foreach (var waiter in _waiters.Where(w => w.Count <= total).ToList())
        {
            waiter.Signal.TrySetResult();
            _waiters.Remove(waiter);
        }
    }
}
