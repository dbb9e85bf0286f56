using Fractal.Learning.Data;

namespace Fractal.Learning.Tests.Data;

public sealed class PartitionerTests
{
    internal const int Classes = 10;

    // 10 classes x 600 samples, interleaved, like a shuffled balanced data set.
    internal static readonly byte[] Labels = Enumerable.Range(0, 6000).Select(i => (byte)(i % Classes)).ToArray();

    [Fact]
    public void Iid_SameSeed_GivesSamePartition()
    {
        var a = Partitioners.Iid(6000, 10, seed: 7);
        var b = Partitioners.Iid(6000, 10, seed: 7);
        var c = Partitioners.Iid(6000, 10, seed: 8);

        Assert.Equal(a.Clients, b.Clients);
        Assert.NotEqual(a.Clients[0], c.Clients[0]);
    }

    [Fact]
    public void Iid_Always_CoversEverySampleOnceInEqualParts()
    {
        var partition = Partitioners.Iid(6003, 10, seed: 1);

        AssertDisjointCover(partition, 6003);
        Assert.All(partition.Clients, c => Assert.InRange(c.Length, 600, 601));
    }

    [Fact]
    public void Dirichlet_SameSeed_GivesSamePartition()
    {
        var a = Partitioners.Dirichlet(Labels, Classes, 10, beta: 0.5, seed: 3);
        var b = Partitioners.Dirichlet(Labels, Classes, 10, beta: 0.5, seed: 3);

        Assert.Equal(a.Clients, b.Clients);
    }

    [Fact]
    public void Dirichlet_SmallBeta_SkewsLabelsFarMoreThanIid()
    {
        var dirichlet = Partitioners.Dirichlet(Labels, Classes, 10, beta: 0.1, seed: 3);
        var iid = Partitioners.Iid(Labels.Length, 10, seed: 3);

        AssertDisjointCover(dirichlet, Labels.Length);
        var skewed = MeanDominantClassShare(dirichlet);
        var balanced = MeanDominantClassShare(iid);
        Assert.True(skewed > 0.5, $"dominant class share {skewed:F2}");
        Assert.True(balanced < 0.2, $"dominant class share {balanced:F2}");
        Assert.All(dirichlet.Clients, c => Assert.True(c.Length >= Partitioners.DirichletMinimumClientSize));
    }

    [Fact]
    public void Dirichlet_LargerBeta_IsLessSkewedThanSmallerBeta()
    {
        var strong = MeanDominantClassShare(Partitioners.Dirichlet(Labels, Classes, 10, beta: 0.1, seed: 5));
        var mild = MeanDominantClassShare(Partitioners.Dirichlet(Labels, Classes, 10, beta: 5, seed: 5));

        Assert.True(mild < strong, $"beta 5: {mild:F2}, beta 0.1: {strong:F2}");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void ClassesPerClient_K_EveryClientHoldsExactlyKClasses(int k)
    {
        var partition = Partitioners.ClassesPerClient(Labels, Classes, 10, k, seed: 11);

        AssertDisjointCover(partition, Labels.Length);
        var counts = partition.LabelCounts(Labels, Classes);
        Assert.All(counts, c => Assert.Equal(k, c.Count(n => n > 0)));
    }

    [Fact]
    public void ClassesPerClient_SameSeed_GivesSamePartition()
    {
        var a = Partitioners.ClassesPerClient(Labels, Classes, 10, 2, seed: 4);
        var b = Partitioners.ClassesPerClient(Labels, Classes, 10, 2, seed: 4);

        Assert.Equal(a.Clients, b.Clients);
    }

    [Theory]
    [InlineData("iid", "iid")]
    [InlineData("dirichlet:0.5", "dirichlet:0.5")]
    [InlineData("classes:2", "classes:2")]
    [InlineData(" Classes:3 ", "classes:3")]
    public void Parse_ValidText_RoundTrips(string text, string expected)
    {
        Assert.Equal(expected, PartitionSpec.Parse(text).ToString());
    }

    [Theory]
    [InlineData("dirichlet")]
    [InlineData("dirichlet:-1")]
    [InlineData("classes:0")]
    [InlineData("label-skew")]
    public void Parse_InvalidText_ThrowsFormatException(string text)
    {
        Assert.Throws<FormatException>(() => PartitionSpec.Parse(text));
    }

    private static double MeanDominantClassShare(DataPartition partition) =>
        partition.LabelCounts(Labels, Classes).Average(c => c.Max() / (double)c.Sum());

    private static void AssertDisjointCover(DataPartition partition, int sampleCount)
    {
        var all = partition.Clients.SelectMany(c => c).ToArray();
        Assert.Equal(sampleCount, all.Length);
        Assert.Equal(sampleCount, all.Distinct().Count());
        Assert.All(all, i => Assert.InRange(i, 0, sampleCount - 1));
    }
}
