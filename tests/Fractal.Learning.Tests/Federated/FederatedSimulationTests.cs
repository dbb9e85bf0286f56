using Fractal.Learning.Data;
using Fractal.Learning.Federated;
using Fractal.Learning.Specs;

namespace Fractal.Learning.Tests.Federated;

public sealed class FederatedSimulationTests
{
    // Stated threshold: an MLP trained federatedly for 3 rounds (2 local epochs) on 3 x 600 Fashion-MNIST images
    // reaches well above chance (10%): 0.72 in this configuration; 0.65 leaves a margin.
    internal const double AccuracyThreshold = 0.65;

    [Theory]
    [InlineData("fedavg")]
    [InlineData("fedprox:0.01")]
    public void Run_ThreeRoundsOnFashionMnistSubset_TestAccuracyRisesAboveThreshold(string strategy)
    {
        var train = FashionMnist.Load(DatasetSplit.Train).Take(1800);
        var test = FashionMnist.Load(DatasetSplit.Test);
        var partition = Partitioners.Iid(train.Count, clientCount: 3, seed: 42);

        var history = FederatedSimulation.Run(
            ModelSpecs.Mlp(),
            FederatedStrategy.Parse(strategy),
            train,
            partition,
            test,
            new FederatedSimulationOptions { Rounds = 3, LocalEpochs = 2, TestSamples = 2000, Seed = 1 });

        Assert.Equal(4, history.Count);
        Assert.All(history.Skip(1), m => Assert.Equal(1800, m.Samples));
        Assert.True(history[0].TestAccuracy < 0.3, $"initial accuracy {history[0].TestAccuracy:F3}");
        Assert.True(history[^1].TestAccuracy > AccuracyThreshold, $"accuracies {string.Join(", ", history.Select(m => m.TestAccuracy.ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))}");
        Assert.True(history[^1].TestAccuracy > history[1].TestAccuracy, "accuracy did not rise after round 1");
    }
}
