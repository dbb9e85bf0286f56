using System.Collections.Concurrent;

namespace Fractal.CloudHub.Ingest.Kafka;

/// <summary>
/// One dedicated long-running thread that owns a Kafka consumer: every call on the consumer
/// (Consume, which blocks; Commit; Seek; Close) runs here, in order, so the consumer is never
/// touched by two threads and rebalance callbacks see a consistent state. The async side awaits
/// the returned tasks and never blocks a thread-pool thread.
/// </summary>
internal sealed class ConsumerThread : IAsyncDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Task _loop;

    public ConsumerThread()
    {
        _loop = Task.Factory.StartNew(Loop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    public Task<T> RunAsync<T>(Func<T> operation)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                completion.SetResult(operation());
            }
#pragma warning disable CA1031 // Not swallowed: handed to the awaiting caller.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                completion.SetException(ex);
            }
        });
        return completion.Task;
    }

    public Task RunAsync(Action operation) => RunAsync(() =>
    {
        operation();
        return true;
    });

    public async ValueTask DisposeAsync()
    {
        _work.CompleteAdding();
        await _loop;
        _work.Dispose();
    }

    private void Loop()
    {
        foreach (var work in _work.GetConsumingEnumerable())
        {
            work();
        }
    }
}
