namespace Fractal.Learning.Data;

/// <summary>
/// Client partitioners with NIID-Bench semantics, deterministic for a given seed.
/// </summary>
/// <remarks>
/// The algorithms follow NIID-Bench's <c>partition_data</c> step by step (same loops, same
/// balancing rule, same split points). The draws come from <see cref="PartitionRandomSource"/>:
/// .NET's seeded <see cref="Random"/> by default (reproducible here, stable across .NET
/// versions), or numpy's <c>RandomState</c>, which makes a partition index-identical to the
/// reference's for the same seed.
/// </remarks>
public static class Partitioners
{
    /// <summary>NIID-Bench's <c>min_require_size</c>: every Dirichlet client gets at least this many samples.</summary>
    public const int DirichletMinimumClientSize = 10;

    internal const int DirichletMaxAttempts = 10_000;

    /// <summary>Homogeneous: a seeded permutation split into near-equal parts (numpy's array_split).</summary>
    public static DataPartition Iid(int sampleCount, int clientCount, int seed, PartitionRandomSource source = PartitionRandomSource.DotNet)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sampleCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(clientCount);
        var random = PartitionRandom.Create(source, seed);
        var order = Enumerable.Range(0, sampleCount).ToArray();
        random.Shuffle(order);
        return new DataPartition(PartitionSpec.Iid, seed, ArraySplit(order, clientCount));
    }

    /// <summary>
    /// Label skew by Dirichlet proportions: for every class, proportions p ~ Dir(beta, ..., beta)
    /// decide how its samples are split over clients; clients already holding more than N/n
    /// samples get no more. Repeated until every client has at least
    /// <see cref="DirichletMinimumClientSize"/> samples.
    /// </summary>
    public static DataPartition Dirichlet(ReadOnlySpan<byte> labels, int classCount, int clientCount, double beta, int seed, PartitionRandomSource source = PartitionRandomSource.DotNet)
    {
        var spec = PartitionSpec.Dirichlet(beta);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(clientCount);
        var minimum = Math.Min(DirichletMinimumClientSize, labels.Length / clientCount);
        var byClass = IndicesByClass(labels, classCount);
        var random = PartitionRandom.Create(source, seed);
        var perClient = labels.Length / (double)clientCount;
        var proportions = new double[clientCount];

        for (var attempt = 0; attempt < DirichletMaxAttempts; attempt++)
        {
            var batches = new List<int>[clientCount];
            for (var j = 0; j < clientCount; j++)
            {
                batches[j] = [];
            }

            for (var k = 0; k < classCount; k++)
            {
                var idx = byClass[k].ToArray();
                random.Shuffle(idx);
                random.Dirichlet(beta, proportions);

                // NIID-Bench: a client that already holds its fair share takes nothing more.
                for (var j = 0; j < clientCount; j++)
                {
                    if (batches[j].Count >= perClient)
                    {
                        proportions[j] = 0;
                    }
                }

                var sum = random.Sum(proportions);

                var start = 0;
                var cumulative = 0.0;
                for (var j = 0; j < clientCount; j++)
                {
                    cumulative += sum > 0 ? proportions[j] / sum : 1.0 / clientCount;
                    var end = j == clientCount - 1 ? idx.Length : Math.Min(idx.Length, (int)(cumulative * idx.Length));
                    end = Math.Max(end, start);
                    batches[j].AddRange(idx.AsSpan(start, end - start));
                    start = end;
                }
            }

            if (batches.Min(b => b.Count) >= minimum)
            {
                var clients = new int[clientCount][];
                for (var j = 0; j < clientCount; j++)
                {
                    clients[j] = [.. batches[j]];
                    random.Shuffle(clients[j]);
                }

                return new DataPartition(spec, seed, clients);
            }
        }

        throw new InvalidOperationException(
            $"Dirichlet partition (beta {beta}) could not give each of {clientCount} clients {minimum} samples from {labels.Length} in {DirichletMaxAttempts} attempts.");
    }

    /// <summary>
    /// #C=k label skew: client i holds class i mod K plus k-1 other distinct classes drawn at
    /// random; each class's samples are split evenly among the clients that hold it.
    /// </summary>
    public static DataPartition ClassesPerClient(ReadOnlySpan<byte> labels, int classCount, int clientCount, int classesPerClient, int seed, PartitionRandomSource source = PartitionRandomSource.DotNet)
    {
        var spec = PartitionSpec.Classes(classesPerClient);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classCount);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(clientCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(classesPerClient, classCount);
        var byClass = IndicesByClass(labels, classCount);
        var random = PartitionRandom.Create(source, seed);

        var contain = new List<int>[clientCount];
        var times = new int[classCount];
        for (var i = 0; i < clientCount; i++)
        {
            contain[i] = [i % classCount];
            times[i % classCount]++;
            while (contain[i].Count < classesPerClient)
            {
                var candidate = random.NextBelow(classCount);
                if (!contain[i].Contains(candidate))
                {
                    contain[i].Add(candidate);
                    times[candidate]++;
                }
            }
        }

        var batches = new List<int>[clientCount];
        for (var j = 0; j < clientCount; j++)
        {
            batches[j] = [];
        }

        for (var k = 0; k < classCount; k++)
        {
            if (times[k] == 0)
            {
                // Fewer clients than classes: nobody was assigned this class.
                continue;
            }

            var idx = byClass[k].ToArray();
            random.Shuffle(idx);
            var splits = ArraySplit(idx, times[k]);
            var next = 0;
            for (var j = 0; j < clientCount; j++)
            {
                if (contain[j].Contains(k))
                {
                    batches[j].AddRange(splits[next++]);
                }
            }
        }

        var clients = new int[clientCount][];
        for (var j = 0; j < clientCount; j++)
        {
            clients[j] = [.. batches[j]];
        }

        return new DataPartition(spec, seed, clients);
    }

    /// <summary>numpy.array_split: the first (length mod parts) parts get one extra element.</summary>
    private static int[][] ArraySplit(int[] source, int parts)
    {
        var result = new int[parts][];
        var baseSize = source.Length / parts;
        var extra = source.Length % parts;
        var start = 0;
        for (var i = 0; i < parts; i++)
        {
            var size = baseSize + (i < extra ? 1 : 0);
            result[i] = source.AsSpan(start, size).ToArray();
            start += size;
        }

        return result;
    }

    private static List<int>[] IndicesByClass(ReadOnlySpan<byte> labels, int classCount)
    {
        var byClass = new List<int>[classCount];
        for (var k = 0; k < classCount; k++)
        {
            byClass[k] = [];
        }

        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= classCount)
            {
                throw new ArgumentException($"Label {labels[i]} at index {i} is not below the class count {classCount}.", nameof(labels));
            }

            byClass[labels[i]].Add(i);
        }

        return byClass;
    }
}
