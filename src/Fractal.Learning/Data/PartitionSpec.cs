using System.Globalization;

namespace Fractal.Learning.Data;

/// <summary>The partitioning schemes of NIID-Bench (Li et al., "Federated Learning on Non-IID Data Silos", 2021).</summary>
public enum PartitionKind
{
    /// <summary>Homogeneous: shuffle and split evenly.</summary>
    Iid,

    /// <summary>Label distribution skew: each class spread over clients by Dir(beta) proportions.</summary>
    Dirichlet,

    /// <summary>Quantity-based label skew (#C=k): each client holds exactly k classes.</summary>
    ClassesPerClient,
}

/// <summary>
/// A partitioning scheme, written as <c>iid</c>, <c>dirichlet:0.5</c> or <c>classes:2</c>.
/// </summary>
public sealed record PartitionSpec
{
    private PartitionSpec(PartitionKind kind, double beta, int classesPerClient)
    {
        Kind = kind;
        Beta = beta;
        ClassesPerClient = classesPerClient;
    }

    /// <summary>The scheme.</summary>
    public PartitionKind Kind { get; }

    /// <summary>Dirichlet concentration (smaller is more skewed); only for <see cref="PartitionKind.Dirichlet"/>.</summary>
    public double Beta { get; }

    /// <summary>Classes per client; only for <see cref="PartitionKind.ClassesPerClient"/>.</summary>
    public int ClassesPerClient { get; }

    /// <summary>The IID scheme.</summary>
    public static PartitionSpec Iid { get; } = new(PartitionKind.Iid, 0, 0);

    /// <summary>Dirichlet label skew with concentration <paramref name="beta"/>.</summary>
    public static PartitionSpec Dirichlet(double beta)
    {
        if (!(beta > 0) || double.IsInfinity(beta))
        {
            throw new ArgumentOutOfRangeException(nameof(beta), beta, "Dirichlet beta must be a positive finite number.");
        }

        return new(PartitionKind.Dirichlet, beta, 0);
    }

    /// <summary>#C=k label skew: each client holds <paramref name="k"/> classes.</summary>
    public static PartitionSpec Classes(int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        return new(PartitionKind.ClassesPerClient, 0, k);
    }

    /// <summary>Parses <c>iid</c>, <c>dirichlet:BETA</c> or <c>classes:K</c>.</summary>
    /// <exception cref="FormatException">The text is none of these.</exception>
    public static PartitionSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Trim().Split(':', 2);
        var kind = parts[0].ToUpperInvariant();
        if (kind == "IID" && parts.Length == 1)
        {
            return Iid;
        }

        if (kind == "DIRICHLET" && parts.Length == 2
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var beta) && beta > 0 && !double.IsInfinity(beta))
        {
            return Dirichlet(beta);
        }

        if (kind == "CLASSES" && parts.Length == 2
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var k) && k > 0)
        {
            return Classes(k);
        }

        throw new FormatException($"Partition '{text}' is not one of: iid, dirichlet:BETA (BETA > 0), classes:K (K >= 1).");
    }

    /// <summary>Partitions a labelled data set over <paramref name="clientCount"/> clients.</summary>
    public DataPartition Apply(ReadOnlySpan<byte> labels, int classCount, int clientCount, int seed, PartitionRandomSource source = PartitionRandomSource.DotNet) => Kind switch
    {
        PartitionKind.Iid => Partitioners.Iid(labels.Length, clientCount, seed, source),
        PartitionKind.Dirichlet => Partitioners.Dirichlet(labels, classCount, clientCount, Beta, seed, source),
        _ => Partitioners.ClassesPerClient(labels, classCount, clientCount, ClassesPerClient, seed, source),
    };

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        PartitionKind.Iid => "iid",
        PartitionKind.Dirichlet => string.Create(CultureInfo.InvariantCulture, $"dirichlet:{Beta}"),
        _ => string.Create(CultureInfo.InvariantCulture, $"classes:{ClassesPerClient}"),
    };
}
