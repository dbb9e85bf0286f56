using Fractal.Learning.Data;

namespace Fractal.Learning.Tests.Data;

public sealed class FashionMnistTests
{
    [Fact]
    public void Load_TestSplit_Returns10000BalancedImagesOf28x28()
    {
        var test = FashionMnist.Load(DatasetSplit.Test);

        Assert.Equal(10_000, test.Count);
        Assert.Equal(28, test.Height);
        Assert.Equal(28, test.Width);
        Assert.All(test.CountPerClass(), count => Assert.Equal(1_000, count));
    }

    [Fact]
    public void Load_TrainSplit_Returns60000Images()
    {
        var train = FashionMnist.Load(DatasetSplit.Train);

        Assert.Equal(60_000, train.Count);
        Assert.Equal(60_000 * 28 * 28, train.Pixels.Length);
        Assert.All(train.CountPerClass(), count => Assert.Equal(6_000, count));
    }

    [Fact]
    public void Load_MissingDirectory_ThrowsNamingFile()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"no-such-{Guid.NewGuid():N}");

        var ex = Assert.Throws<DirectoryNotFoundException>(() => FashionMnist.Load(DatasetSplit.Test, directory));

        Assert.Contains("t10k-images-idx3-ubyte.gz", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Subset_Indices_CopiesImagesAndLabelsInOrder()
    {
        var test = FashionMnist.Load(DatasetSplit.Test);

        var subset = test.Subset([5, 0]);

        Assert.Equal(2, subset.Count);
        Assert.Equal(test.GetLabel(5), subset.GetLabel(0));
        Assert.True(test.GetImage(0).SequenceEqual(subset.GetImage(1)));
    }
}
