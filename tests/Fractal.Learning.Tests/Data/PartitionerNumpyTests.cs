using System.Globalization;
using Fractal.Learning.Data;

namespace Fractal.Learning.Tests.Data;

/// <summary>
/// With <see cref="PartitionRandomSource.Numpy"/>, the partitioners give the reference's
/// partitions index for index: numpy itself (Debian's python3-numpy) computes Flower's
/// NIID-Bench partitions of the same labels with the same seeds, and every client must match.
/// </summary>
public sealed class PartitionerNumpyTests
{
    private const int Clients = 10;

    // Uneven class sizes, so that array_split remainders and the Dirichlet balancing rule matter.
    private static readonly byte[] Labels = UnevenLabels(12_000, seed: 9);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(42)]
    public async Task Partitions_WithNumpySource_MatchNumpyClientForClient(int seed)
    {
        var reference = await ReferencePartitionsAsync(seed);

        foreach (var (name, expected) in reference)
        {
            var actual = PartitionSpec.Parse(name).Apply(Labels, 10, Clients, seed, PartitionRandomSource.Numpy);
            Assert.Equal(Clients, expected.Count);
            for (var client = 0; client < Clients; client++)
            {
                if (name.StartsWith("dirichlet", StringComparison.Ordinal))
                {
                    // The same samples; the order within a client is ours (shuffled once more).
                    Assert.Equal(expected[client].Order(), actual.Clients[client].Order());
                }
                else
                {
                    Assert.Equal(expected[client], actual.Clients[client]);
                }
            }
        }

        Assert.Equal(["classes:2", "classes:3", "dirichlet:0.5", "iid"], reference.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Partitions_WithNumpySource_DifferFromDotNetSource()
    {
        var numpy = Partitioners.ClassesPerClient(Labels, 10, Clients, 2, seed: 42, PartitionRandomSource.Numpy);
        var dotnet = Partitioners.ClassesPerClient(Labels, 10, Clients, 2, seed: 42);

        Assert.NotEqual(numpy.Clients, dotnet.Clients);
    }

    [Theory]
    [InlineData(0, 10, 0.049062717973675715)]
    [InlineData(3, 10, 0.044989125189391084)] // left to right: 0.04498912518939108
    [InlineData(0, 20, 0.0746396037946504)]
    [InlineData(0, 300, 1.0000000000000007)] // left to right: 1.0000000000000004
    public void NumpySum_OfDirichletDraws_RoundsAsNumpysPairwiseSum(int start, int count, double numpySum)
    {
        // numpy: np.random.RandomState(0).dirichlet([0.5] * 300)[start:start + count].sum()
        var draws = new double[300];
        new NumpyRandomState(0).Dirichlet(0.5, draws);

        Assert.Equal(numpySum, PartitionRandom.Create(PartitionRandomSource.Numpy, 0).Sum(draws.AsSpan(start, count)));
    }

    [Fact]
    public void DotNetSource_KeepsTheStreamOfEarlierRuns()
    {
        // Sizes from the partitioners before the numpy source existed (the committed NIID-Bench
        // runs were made with them): the default source must not change a single draw.
        var dirichlet = Partitioners.Dirichlet(Labels, 10, Clients, 0.5, seed: 0);
        var classes = Partitioners.ClassesPerClient(Labels, 10, Clients, 2, seed: 0);

        Assert.Equal(DotNetDirichletSizes, dirichlet.Clients.Select(c => c.Length));
        Assert.Equal(DotNetClassesSizes, classes.Clients.Select(c => c.Length));
    }

    [Fact]
    public void NumpySource_NegativeSeed_IsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Partitioners.Iid(100, 2, seed: -1, PartitionRandomSource.Numpy));
    }

    // Printed by the partitioners of commit 02620c7, the last before PartitionRandom.
    private static readonly int[] DotNetDirichletSizes = [1120, 627, 1536, 1471, 1284, 1301, 1222, 1388, 1125, 926];
    private static readonly int[] DotNetClassesSizes = [1141, 1557, 733, 1632, 796, 1189, 1983, 1087, 1065, 817];

    private static byte[] UnevenLabels(int count, int seed)
    {
        var random = new Random(seed);
        var labels = new byte[count];
        for (var i = 0; i < count; i++)
        {
            // Class c is drawn with weight c + 5.
            var draw = random.Next(95);
            var c = 0;
            while (draw >= c + 5)
            {
                draw -= c + 5;
                c++;
            }

            labels[i] = (byte)c;
        }

        return labels;
    }

    private static async Task<Dictionary<string, List<int[]>>> ReferencePartitionsAsync(int seed)
    {
        var directory = Directory.CreateTempSubdirectory("fractal-numpy-partitions-");
        try
        {
            var labelsFile = Path.Combine(directory.FullName, "labels.u8");
            await File.WriteAllBytesAsync(labelsFile, Labels);
            var (exitCode, output, error) = await ReferencePython.RunAsync(
                [
                    Path.Combine(AppContext.BaseDirectory, "Data", "numpy_reference_partitions.py"),
                    labelsFile,
                    Clients.ToString(CultureInfo.InvariantCulture),
                    seed.ToString(CultureInfo.InvariantCulture),
                ],
                TimeSpan.FromMinutes(2));
            Assert.True(exitCode == 0, $"numpy reference failed: {error}");

            var partitions = new Dictionary<string, List<int[]>>();
            foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var fields = line.Split(' ');
                var indices = fields.Length > 2 && fields[2].Length > 0
                    ? fields[2].Split(',').Select(i => int.Parse(i, CultureInfo.InvariantCulture)).ToArray()
                    : [];
                if (!partitions.TryGetValue(fields[0], out var clients))
                {
                    partitions[fields[0]] = clients = [];
                }

                Assert.Equal(clients.Count, int.Parse(fields[1], CultureInfo.InvariantCulture));
                clients.Add(indices);
            }

            return partitions;
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
