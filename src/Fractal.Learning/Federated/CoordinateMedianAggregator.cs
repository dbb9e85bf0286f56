namespace Fractal.Learning.Federated;

/// <summary>
/// Coordinate-wise median (Yin et al., "Byzantine-Robust Distributed Learning", 2018): each
/// parameter of the aggregate is the median of that parameter over the updates (unweighted; the
/// mean of the two middle values for an even count). Fewer than half of the clients cannot drag
/// it outside the range of the honest values.
/// </summary>
/// <remarks>Updates are spooled to disk; see <see cref="SpoolingOptions"/> for the memory bound.</remarks>
public sealed class CoordinateMedianAggregator(SpoolingOptions? options = null) : IUpdateAggregator
{
    private readonly SpoolingOptions _options = options ?? new SpoolingOptions();

    /// <inheritdoc />
    public string Name => "median";

    /// <inheritdoc />
    public IAggregationSession Begin(int parameterCount) => new Session(parameterCount, _options);

    private sealed class Session(int parameterCount, SpoolingOptions options) : SpooledCoordinateSession(parameterCount, options)
    {
        protected override float Reduce(Span<float> values)
        {
            values.Sort();
            var mid = values.Length / 2;
            return values.Length % 2 == 1 ? values[mid] : (float)(((double)values[mid - 1] + values[mid]) / 2);
        }
    }
}
