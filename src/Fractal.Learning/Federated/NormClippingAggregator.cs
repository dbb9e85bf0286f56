using System.Globalization;

namespace Fractal.Learning.Federated;

/// <summary>
/// Norm clipping (Sun et al., "Can You Really Backdoor Federated Learning?", 2019): each update
/// is scaled down to L2 norm at most <see cref="MaxNorm"/>, then the sample-weighted mean is taken.
/// The aggregate is a convex combination of clipped updates, so its norm is at most MaxNorm too,
/// and a single scaled-up malicious update can move the model by at most its weight times MaxNorm.
/// </summary>
public sealed class NormClippingAggregator : IUpdateAggregator
{
    /// <summary>Creates the aggregator.</summary>
    /// <param name="maxNorm">Largest L2 norm an update keeps; must be positive.</param>
    public NormClippingAggregator(double maxNorm)
    {
        if (!(maxNorm > 0) || double.IsInfinity(maxNorm))
        {
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "The clipping norm must be a positive finite number.");
        }

        MaxNorm = maxNorm;
    }

    /// <summary>The clipping bound.</summary>
    public double MaxNorm { get; }

    /// <inheritdoc />
    public string Name => string.Create(CultureInfo.InvariantCulture, $"clip:{MaxNorm}");

    /// <inheritdoc />
    public IAggregationSession Begin(int parameterCount) => new WeightedMeanAggregator.Session(parameterCount, MaxNorm);
}
