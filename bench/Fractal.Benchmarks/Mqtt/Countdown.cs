using System.Diagnostics;

namespace Fractal.Benchmarks.Mqtt;

/// <summary>Counts readings of the measured stream and completes when an armed target is reached.</summary>
internal sealed class Countdown
{
    private int _count;
    private int _target = int.MaxValue;
    private long _lastSignal;
    private long _longestGap;
    private TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private SemaphoreSlim? _window;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Readings still to come before the armed target (int.MaxValue when not armed).</summary>
    public long Remaining => (long)Volatile.Read(ref _target) - Count;

    public Task Done => Volatile.Read(ref _done).Task;

    /// <summary>The longest time between two readings (or the start and the first) since <see cref="Arm"/>.</summary>
    public TimeSpan LongestGap => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _longestGap));

    /// <summary>Starts counting towards <paramref name="target"/>; each reading counted gives a permit back to <paramref name="window"/>.</summary>
    public void Arm(int target, SemaphoreSlim? window = null)
    {
        _window = window;
        Volatile.Write(ref _done, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        Volatile.Write(ref _count, 0);
        Interlocked.Exchange(ref _longestGap, 0);
        Interlocked.Exchange(ref _lastSignal, Stopwatch.GetTimestamp());
        Volatile.Write(ref _target, target);
    }

    /// <summary>Counts <paramref name="readings"/> (more than one when they are learned from a metric poll).</summary>
    public void Signal(int readings = 1)
    {
        var now = Stopwatch.GetTimestamp();
        var gap = now - Interlocked.Exchange(ref _lastSignal, now);
        long longest;
        while (gap > (longest = Interlocked.Read(ref _longestGap)) && Interlocked.CompareExchange(ref _longestGap, gap, longest) != longest)
        {
        }

        _window?.Release(readings);
        var count = Interlocked.Add(ref _count, readings);
        var target = Volatile.Read(ref _target);
        if (count >= target && count - readings < target)
        {
            Volatile.Read(ref _done).TrySetResult();
        }
    }
}
