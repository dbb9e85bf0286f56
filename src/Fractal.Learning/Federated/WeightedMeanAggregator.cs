namespace Fractal.Learning.Federated;

/// <summary>
/// FedAvg (McMahan et al., 2017): the mean of the updates weighted by sample count. FedProx uses
/// the same server step; its proximal term lives in local training.
/// </summary>
/// <remarks>Memory: one double accumulator of model size, whatever the number of clients.</remarks>
public sealed class WeightedMeanAggregator : IUpdateAggregator
{
    /// <inheritdoc />
    public string Name => "fedavg";

    /// <inheritdoc />
    public IAggregationSession Begin(int parameterCount) => new Session(parameterCount, maxNorm: null);

    /// <summary>Weighted mean, optionally clipping each update to an L2 norm first.</summary>
    internal sealed class Session(int parameterCount, double? maxNorm) : AggregationSessionBase(parameterCount)
    {
        // Doubles: summing thousands of float updates in float loses the small ones.
        private readonly double[] _sum = new double[parameterCount];

        protected override void AddCore(ReadOnlySpan<float> delta, long sampleCount, int index)
        {
            var scale = (double)sampleCount;
            if (maxNorm is { } limit)
            {
                var norm = L2Norm(delta);
                if (norm > limit)
                {
                    scale *= limit / norm;
                }
            }

            for (var i = 0; i < delta.Length; i++)
            {
                _sum[i] += scale * delta[i];
            }
        }

        protected override void CompleteCore(Span<float> aggregate)
        {
            var total = (double)SampleCount;
            for (var i = 0; i < aggregate.Length; i++)
            {
                aggregate[i] = (float)(_sum[i] / total);
            }
        }
    }

    internal static double L2Norm(ReadOnlySpan<float> values)
    {
        var sum = 0.0;
        foreach (var v in values)
        {
            sum += (double)v * v;
        }

        return Math.Sqrt(sum);
    }
}
