namespace Fractal.Learning.Data;

/// <summary>The sample indices each simulated client owns; clients are disjoint.</summary>
public sealed class DataPartition
{
    internal DataPartition(PartitionSpec spec, int seed, int[][] clients)
    {
        Spec = spec;
        Seed = seed;
        Clients = clients;
    }

    /// <summary>How the partition was made.</summary>
    public PartitionSpec Spec { get; }

    /// <summary>The seed that makes it reproducible.</summary>
    public int Seed { get; }

    /// <summary>Per client, the indices of its samples in the source data set.</summary>
    public IReadOnlyList<int[]> Clients { get; }

    /// <summary>Per client, how many of its samples carry each label.</summary>
    public int[][] LabelCounts(ReadOnlySpan<byte> labels, int classCount)
    {
        var result = new int[Clients.Count][];
        for (var c = 0; c < Clients.Count; c++)
        {
            result[c] = new int[classCount];
            foreach (var index in Clients[c])
            {
                result[c][labels[index]]++;
            }
        }

        return result;
    }
}
