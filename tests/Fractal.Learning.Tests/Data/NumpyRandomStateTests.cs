using Fractal.Learning.Data;

namespace Fractal.Learning.Tests.Data;

/// <summary>
/// numpy's legacy RandomState streams, draw for draw. The expected values were printed by numpy
/// 1.24 (Debian 12's python3-numpy), e.g. <c>np.random.RandomState(42).random_sample(3)</c>.
/// </summary>
public sealed class NumpyRandomStateTests
{
    [Fact]
    public void NextUInt32_Seed42_GivesMt19937Outputs()
    {
        // np.random.RandomState(42).randint(0, 2**32, size=3, dtype=np.uint64): raw outputs.
        var state = new NumpyRandomState(42);

        Assert.Equal([1608637542u, 3421126067u, 4083286876u], new[] { state.NextUInt32(), state.NextUInt32(), state.NextUInt32() });
    }

    [Fact]
    public void NextDouble_Seed42_GivesRandomSample()
    {
        var state = new NumpyRandomState(42);

        Assert.Equal([0.3745401188473625, 0.9507143064099162, 0.7319939418114051], new[] { state.NextDouble(), state.NextDouble(), state.NextDouble() });
    }

    [Fact]
    public void RandInt_Seed42_GivesRandint()
    {
        var state = new NumpyRandomState(42);

        Assert.Equal([6, 3, 7, 4, 6, 9, 2, 6, 7, 4, 3, 7], Enumerable.Range(0, 12).Select(_ => state.RandInt(0, 10)).ToArray());
    }

    [Fact]
    public void Shuffle_Seed42_GivesShuffle()
    {
        var values = Enumerable.Range(0, 20).ToArray();

        new NumpyRandomState(42).Shuffle(values);

        Assert.Equal([0, 17, 15, 1, 8, 5, 11, 3, 18, 16, 13, 2, 9, 19, 4, 12, 7, 10, 14, 6], values);
    }

    [Fact]
    public void Permutation_Seed7_GivesPermutation()
    {
        Assert.Equal([8, 5, 0, 2, 1, 9, 7, 3, 6, 4], new NumpyRandomState(7).Permutation(10));
    }

    [Fact]
    public void Dirichlet_ShapeBelowOne_GivesDirichletToTheLastBit()
    {
        var proportions = new double[10];

        new NumpyRandomState(42).Dirichlet(0.5, proportions);

        Assert.Equal(
            [0.053730265337750174, 0.25241757829794903, 0.009323420576781606, 0.0012921993884888107, 0.1439120551701752,
             0.00016229408862503532, 0.41958304899466736, 0.012662787917938883, 0.03545368042096068, 0.07146266980666319],
            proportions);
    }

    [Fact]
    public void Dirichlet_ShapeAboveOne_UsesThePolarGaussianAsNumpy()
    {
        var proportions = new double[4];

        new NumpyRandomState(3).Dirichlet(2.5, proportions);

        Assert.Equal([0.48649191726196017, 0.23271295745186826, 0.14437095350917897, 0.13642417177699262], proportions);
    }

    [Fact]
    public void Gauss_Seed5_GivesStandardNormal()
    {
        var state = new NumpyRandomState(5);

        Assert.Equal([0.44122748688504143, -0.33087015189408764, 2.43077118700778], new[] { state.Gauss(), state.Gauss(), state.Gauss() });
    }

    [Fact]
    public void RandInt_EmptyRange_IsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NumpyRandomState(1).RandInt(5, 5));
    }
}
