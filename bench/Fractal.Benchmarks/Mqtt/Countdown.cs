namespace Fractal.Benchmarks.Mqtt;

/// <summary>Counts readings of the measured stream and completes when an armed target is reached.</summary>
internal sealed class Countdown
{
    private int _count;
    private int _target = int.MaxValue;
    private TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Count => Volatile.Read(ref _count);

    public Task Done => Volatile.Read(ref _done).Task;

    public void Arm(int target)
    {
        Volatile.Write(ref _done, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        Volatile.Write(ref _count, 0);
        Volatile.Write(ref _target, target);
    }

    public void Signal()
    {
        if (Interlocked.Increment(ref _count) == Volatile.Read(ref _target))
        {
            Volatile.Read(ref _done).TrySetResult();
        }
    }
}
