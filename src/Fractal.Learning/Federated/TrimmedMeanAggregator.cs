using System.Globalization;

namespace Fractal.Learning.Federated;

/// <summary>
/// Coordinate-wise trimmed mean (Yin et al., 2018): for each parameter, the largest and the
/// smallest floor(<see cref="TrimFraction"/> x N) values are dropped and the rest averaged
/// (unweighted). Tolerates up to that many malicious clients on each side.
/// </summary>
/// <remarks>Updates are spooled to disk; see <see cref="SpoolingOptions"/> for the memory bound.</remarks>
public sealed class TrimmedMeanAggregator : IUpdateAggregator
{
    private readonly SpoolingOptions _options;

    /// <summary>Creates the aggregator.</summary>
    /// <param name="trimFraction">Fraction trimmed from each end, in [0, 0.5).</param>
    /// <param name="options">Spooling settings.</param>
    public TrimmedMeanAggregator(double trimFraction, SpoolingOptions? options = null)
    {
        if (!(trimFraction >= 0 && trimFraction < 0.5))
        {
            throw new ArgumentOutOfRangeException(nameof(trimFraction), trimFraction, "The trim fraction must be in [0, 0.5).");
        }

        TrimFraction = trimFraction;
        _options = options ?? new SpoolingOptions();
    }

    /// <summary>Fraction of updates trimmed from each end of every coordinate.</summary>
    public double TrimFraction { get; }

    /// <inheritdoc />
    public string Name => string.Create(CultureInfo.InvariantCulture, $"trimmed:{TrimFraction}");

    /// <inheritdoc />
    public IAggregationSession Begin(int parameterCount) => new Session(parameterCount, _options, TrimFraction);

    private sealed class Session(int parameterCount, SpoolingOptions options, double trimFraction)
        : SpooledCoordinateSession(parameterCount, options)
    {
        protected override float Reduce(Span<float> values)
        {
            var trim = (int)Math.Floor(trimFraction * values.Length);
            values.Sort();
            var kept = values[trim..^trim];
            var sum = 0.0;
            foreach (var v in kept)
            {
                sum += v;
            }

            return (float)(sum / kept.Length);
        }
    }
}
