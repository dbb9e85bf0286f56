using System.Globalization;

namespace Fractal.Learning.Federated;

/// <summary>
/// A federated algorithm as the server sees it: how updates are combined, how the global model
/// steps, and the proximal coefficient clients train with (FedProx; 0 for the others).
/// </summary>
public sealed class FederatedStrategy
{
    private readonly Func<IServerOptimizer> _createOptimizer;

    /// <summary>Creates a strategy from its parts.</summary>
    /// <param name="name">Name for logs and lineage.</param>
    /// <param name="aggregator">Combines the updates of a round.</param>
    /// <param name="createOptimizer">Makes the (stateful) server optimizer for one job.</param>
    /// <param name="proximalMu">FedProx mu that clients add to their loss; 0 for none.</param>
    public FederatedStrategy(string name, IUpdateAggregator aggregator, Func<IServerOptimizer> createOptimizer, double proximalMu = 0)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(aggregator);
        ArgumentNullException.ThrowIfNull(createOptimizer);
        if (!(proximalMu >= 0) || double.IsInfinity(proximalMu))
        {
            throw new ArgumentOutOfRangeException(nameof(proximalMu), proximalMu, "FedProx mu must be a non-negative finite number.");
        }

        Name = name;
        Aggregator = aggregator;
        _createOptimizer = createOptimizer;
        ProximalMu = proximalMu;
    }

    /// <summary>Name for logs and lineage.</summary>
    public string Name { get; }

    /// <summary>How a round's updates are combined.</summary>
    public IUpdateAggregator Aggregator { get; }

    /// <summary>FedProx mu that clients add to their local loss (mu/2 ||w - w_global||^2); 0 for none.</summary>
    public double ProximalMu { get; }

    /// <summary>A fresh server optimizer (its state lives for one federated job).</summary>
    public IServerOptimizer CreateServerOptimizer() => _createOptimizer();

    /// <summary>FedAvg: sample-weighted mean of the clients' models.</summary>
    public static FederatedStrategy FedAvg() => new("fedavg", new WeightedMeanAggregator(), () => new SgdServerOptimizer());

    /// <summary>FedProx: FedAvg on the server; clients add the proximal term with <paramref name="mu"/>.</summary>
    public static FederatedStrategy FedProx(double mu) =>
        new(string.Create(CultureInfo.InvariantCulture, $"fedprox:{mu}"), new WeightedMeanAggregator(), () => new SgdServerOptimizer(), mu);

    /// <summary>FedAvgM: FedAvg with server momentum.</summary>
    public static FederatedStrategy FedAvgM(double learningRate = 1.0, double momentum = 0.9) =>
        new("fedavgm", new WeightedMeanAggregator(), () => new MomentumServerOptimizer(learningRate, momentum));

    /// <summary>FedAdam: Adam on the server over the weighted-mean pseudo-gradient.</summary>
    public static FederatedStrategy FedAdam(double learningRate = 0.01, double beta1 = 0.9, double beta2 = 0.99, double tau = 1e-3) =>
        new("fedadam", new WeightedMeanAggregator(), () => new AdamServerOptimizer(learningRate, beta1, beta2, tau));

    /// <summary>Coordinate-wise median of the updates.</summary>
    public static FederatedStrategy Median(SpoolingOptions? spooling = null) =>
        new("median", new CoordinateMedianAggregator(spooling), () => new SgdServerOptimizer());

    /// <summary>Coordinate-wise trimmed mean of the updates.</summary>
    public static FederatedStrategy TrimmedMean(double trimFraction, SpoolingOptions? spooling = null)
    {
        var aggregator = new TrimmedMeanAggregator(trimFraction, spooling);
        return new(aggregator.Name, aggregator, () => new SgdServerOptimizer());
    }

    /// <summary>FedAvg over updates clipped to an L2 norm.</summary>
    public static FederatedStrategy NormClipped(double maxNorm)
    {
        var aggregator = new NormClippingAggregator(maxNorm);
        return new(aggregator.Name, aggregator, () => new SgdServerOptimizer());
    }

    /// <summary>
    /// Parses <c>fedavg</c>, <c>fedprox:MU</c>, <c>fedavgm</c>, <c>fedadam</c>, <c>median</c>,
    /// <c>trimmed:FRACTION</c> or <c>clip:NORM</c>.
    /// </summary>
    /// <exception cref="FormatException">The text names no known strategy or has a bad argument.</exception>
    public static FederatedStrategy Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Trim().Split(':', 2);
        var name = parts[0].ToUpperInvariant();
        double? arg = null;
        if (parts.Length == 2)
        {
            if (!double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                throw new FormatException($"Strategy '{text}': '{parts[1]}' is not a number.");
            }

            arg = value;
        }

        try
        {
            return (name, arg) switch
            {
                ("FEDAVG", null) => FedAvg(),
                ("FEDPROX", { } mu) => FedProx(mu),
                ("FEDAVGM", null) => FedAvgM(),
                ("FEDADAM", null) => FedAdam(),
                ("MEDIAN", null) => Median(),
                ("TRIMMED", { } f) => TrimmedMean(f),
                ("CLIP", { } n) => NormClipped(n),
                _ => throw new FormatException(
                    $"Strategy '{text}' is not one of: fedavg, fedprox:MU, fedavgm, fedadam, median, trimmed:FRACTION, clip:NORM."),
            };
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new FormatException($"Strategy '{text}': {ex.Message}", ex);
        }
    }

    /// <inheritdoc />
    public override string ToString() => Name;
}
