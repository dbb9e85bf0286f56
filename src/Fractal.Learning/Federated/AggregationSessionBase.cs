namespace Fractal.Learning.Federated;

/// <summary>Argument checks and locking shared by all aggregation sessions.</summary>
internal abstract class AggregationSessionBase : IAggregationSession
{
    private readonly Lock _gate = new();
    private bool _completed;
    private bool _disposed;

    protected AggregationSessionBase(int parameterCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parameterCount);
        ParameterCount = parameterCount;
    }

    public int ParameterCount { get; }

    public int UpdateCount { get; private set; }

    public long SampleCount { get; private set; }

    public void Add(ReadOnlySpan<float> delta, long sampleCount)
    {
        if (delta.Length != ParameterCount)
        {
            throw new ArgumentException($"Update has {delta.Length} parameters; this round aggregates {ParameterCount}.", nameof(delta));
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleCount);
        var bad = IndexOfNonFinite(delta);
        if (bad >= 0)
        {
            // One NaN or infinity would poison every aggregate, robust ones included (it sorts oddly).
            throw new ArgumentException($"Update has a non-finite value ({delta[bad]}) at parameter {bad}.", nameof(delta));
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_completed)
            {
                throw new InvalidOperationException("The aggregation session is already completed.");
            }

            AddCore(delta, sampleCount, UpdateCount);
            UpdateCount++;
            SampleCount += sampleCount;
        }
    }

    public void Complete(Span<float> aggregate)
    {
        if (aggregate.Length != ParameterCount)
        {
            throw new ArgumentException($"Result buffer has {aggregate.Length} parameters; this round aggregates {ParameterCount}.", nameof(aggregate));
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_completed)
            {
                throw new InvalidOperationException("The aggregation session is already completed.");
            }

            if (UpdateCount == 0)
            {
                throw new InvalidOperationException("Cannot aggregate a round without updates.");
            }

            CompleteCore(aggregate);
            _completed = true;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            DisposeCore();
        }
    }

    /// <summary>Called under the lock with a validated update; <paramref name="index"/> counts from 0.</summary>
    protected abstract void AddCore(ReadOnlySpan<float> delta, long sampleCount, int index);

    /// <summary>Called under the lock once, with at least one update added.</summary>
    protected abstract void CompleteCore(Span<float> aggregate);

    protected virtual void DisposeCore()
    {
    }

    private static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
            {
                return i;
            }
        }

        return -1;
    }
}
