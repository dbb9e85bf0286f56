namespace Fractal.Agent.Sync.Buffer;

/// <summary>
/// Decides whether the buffer's writer lets the next group fill for the commit delay before it
/// commits, by trying both now and then and keeping what works for the load at hand.
/// </summary>
/// <remarks>
/// Waiting pays when readings keep arriving regardless of acknowledgements (a broker's in-flight
/// window): groups grow and every fsync and transaction is shared by more readings. It costs when
/// each sender waits for its acknowledgement before it sends again (sensors on the embedded
/// server, a fixed set of producers): everyone is already in the group and the wait is pure
/// latency. So the pacer compares groups committed with and without the delay, by size and by
/// readings per second over the whole cycle (wait plus commit), and waits only while waiting
/// gives clearly larger groups at no loss of rate. Whatever the state, every
/// <see cref="ProbeEvery"/>-th group under load does the other thing, so a change of load is
/// noticed. docs/design/0002-durable-buffer.md, "Commit delay".
/// </remarks>
internal sealed class GroupCommitPacer
{
    /// <summary>One group in this many is committed the other way, to keep both figures current.</summary>
    public const int ProbeEvery = 32;

    /// <summary>Delayed groups must be at least this much larger to be worth the wait.</summary>
    public const double MinimumGrowth = 1.5;

    /// <summary>... and keep at least this share of the undelayed rate (it is noisy).</summary>
    public const double MinimumRateShare = 0.9;

    private const double Smoothing = 0.25;

    private readonly bool _enabled;
    private long _groups;
    private Figures _delayed;
    private Figures _undelayed;

    public GroupCommitPacer(TimeSpan delay)
    {
        _enabled = delay > TimeSpan.Zero;
    }

    /// <summary>Whether the writer currently waits before groups under load (probes aside).</summary>
    public bool Waiting { get; private set; }

    /// <summary>Whether to wait before the next group; call only under load (the group before held several items).</summary>
    public bool ShouldDelay()
    {
        if (!_enabled)
        {
            return false;
        }

        var probe = ++_groups % ProbeEvery == 0;
        return Waiting != probe;
    }

    /// <summary>Records a group committed under load: its size, whether it waited, and the time since the commit before ended.</summary>
    public void Record(int groupSize, bool delayed, TimeSpan cycle)
    {
        if (!_enabled || cycle <= TimeSpan.Zero)
        {
            return;
        }

        var rate = groupSize / cycle.TotalSeconds;
        if (delayed)
        {
            _delayed = _delayed.Add(groupSize, rate);
        }
        else
        {
            _undelayed = _undelayed.Add(groupSize, rate);
        }

        if (_delayed.Samples > 0 && _undelayed.Samples > 0)
        {
            Waiting = _delayed.Size >= MinimumGrowth * _undelayed.Size && _delayed.Rate >= MinimumRateShare * _undelayed.Rate;
        }
    }

    /// <summary>Exponentially weighted group size and rate of one way of committing.</summary>
    private readonly record struct Figures(int Samples, double Size, double Rate)
    {
        public Figures Add(int size, double rate) => Samples == 0
            ? new Figures(1, size, rate)
            : new Figures(Samples + 1, Size + (Smoothing * (size - Size)), Rate + (Smoothing * (rate - Rate)));
    }
}
