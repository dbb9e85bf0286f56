using Fractal.Learning.Federated;

namespace Fractal.Learning.Tests.Federated;

public sealed class ServerOptimizerTests
{
    [Fact]
    public void Momentum_TwoRounds_MatchesHandComputedValues()
    {
        var optimizer = new MomentumServerOptimizer(learningRate: 0.5, momentum: 0.9);
        float[] weights = [1f, -1f];

        // Round 1: v = [0.2, -0.4]; w = [1.1, -1.2].
        optimizer.ApplyUpdate(weights, [0.2f, -0.4f]);
        Assert.Equal(1.1f, weights[0], 5);
        Assert.Equal(-1.2f, weights[1], 5);

        // Round 2: v = 0.9 x [0.2, -0.4] + [0.1, 0.1] = [0.28, -0.26]; w = [1.24, -1.33].
        optimizer.ApplyUpdate(weights, [0.1f, 0.1f]);
        Assert.Equal(1.24f, weights[0], 5);
        Assert.Equal(-1.33f, weights[1], 5);
    }

    [Fact]
    public void Momentum_ZeroMomentumUnitRate_EqualsFedAvgStep()
    {
        float[] a = [1f, 2f];
        float[] b = [1f, 2f];

        new MomentumServerOptimizer(1.0, 0.0).ApplyUpdate(a, [0.5f, -0.5f]);
        new SgdServerOptimizer().ApplyUpdate(b, [0.5f, -0.5f]);

        Assert.Equal(b, a);
        Assert.Equal([1.5f, 1.5f], a);
    }

    [Fact]
    public void Adam_TwoRounds_MatchesHandComputedValues()
    {
        var optimizer = new AdamServerOptimizer(learningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 0.001);
        float[] weights = [0f, 1f];

        // Round 1, delta [1, -2]: m = [0.1, -0.2]; v = [0.01, 0.04]; sqrt(v) = [0.1, 0.2];
        // w += 0.1 x m / (sqrt(v) + 0.001) = [0.1 x 0.1/0.101, 1 - 0.1 x 0.2/0.201].
        optimizer.ApplyUpdate(weights, [1f, -2f]);
        Assert.Equal(0.1 * 0.1 / 0.101, weights[0], 5);
        Assert.Equal(1 - (0.1 * 0.2 / 0.201), weights[1], 5);

        // Round 2, delta [0.5, 0]: m = [0.09 + 0.05, -0.18] = [0.14, -0.18];
        // v = [0.0099 + 0.0025, 0.0396] = [0.0124, 0.0396].
        var w0 = weights[0] + (0.1 * 0.14 / (Math.Sqrt(0.0124) + 0.001));
        var w1 = weights[1] + (0.1 * -0.18 / (Math.Sqrt(0.0396) + 0.001));
        optimizer.ApplyUpdate(weights, [0.5f, 0f]);
        Assert.Equal(w0, weights[0], 5);
        Assert.Equal(w1, weights[1], 5);
    }

    [Fact]
    public void ApplyUpdate_WrongLength_Throws()
    {
        Assert.Throws<ArgumentException>(() => new AdamServerOptimizer().ApplyUpdate(new float[3], new float[2]));
    }

    [Fact]
    public void FederatedServer_RoundOfClientWeights_BecomesWeightedAverageOfClients()
    {
        var server = new FederatedServer(FederatedStrategy.FedAvg(), [0f, 0f]);

        using (var round = server.BeginRound())
        {
            round.AddClientWeights([1f, 2f], 1);
            round.AddClientWeights([3f, 6f], 3);
            var weights = round.Complete();
            Assert.Equal([2.5f, 5f], weights);
        }

        Assert.Equal(1, server.CompletedRounds);
        Assert.Equal([2.5f, 5f], server.Weights.ToArray());
    }

    [Fact]
    public void BeginRound_PreviousRoundStillOpen_Throws()
    {
        var server = new FederatedServer(FederatedStrategy.FedAvg(), [0f]);
        using var open = server.BeginRound();

        Assert.Throws<InvalidOperationException>(() => server.BeginRound());
    }

    [Theory]
    [InlineData("fedavg", "fedavg", 0)]
    [InlineData("fedprox:0.01", "fedprox:0.01", 0.01)]
    [InlineData("fedadam", "fedadam", 0)]
    [InlineData("trimmed:0.1", "trimmed:0.1", 0)]
    public void Parse_KnownStrategy_HasNameAndMu(string text, string name, double mu)
    {
        var strategy = FederatedStrategy.Parse(text);

        Assert.Equal(name, strategy.Name);
        Assert.Equal(mu, strategy.ProximalMu);
    }

    [Theory]
    [InlineData("fedsgd")]
    [InlineData("fedprox")]
    [InlineData("trimmed:0.7")]
    public void Parse_UnknownOrInvalid_ThrowsFormatException(string text)
    {
        Assert.Throws<FormatException>(() => FederatedStrategy.Parse(text));
    }
}
