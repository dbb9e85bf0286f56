using Fractal.Experiments;
using Fractal.Learning.Data;

namespace Fractal.Learning.Tests.Experiments;

public sealed class ExperimentSettingsTests
{
    [Fact]
    public void PartitionRandom_Numpy_IsParsedAndNamedInTheRunTag()
    {
        var settings = ExperimentSettings.Parse(["--partition-random", "numpy", "--seed", "42", "--init", "torch"]);

        Assert.Equal(PartitionRandomSource.Numpy, settings.PartitionRandom);
        Assert.EndsWith(" init=torch partition-random=numpy", settings.RunTag(PartitionSpec.Classes(2), "fedavg"), StringComparison.Ordinal);
    }

    [Fact]
    public void PartitionRandom_Default_KeepsTheRunTagOfEarlierCheckpoints()
    {
        var settings = ExperimentSettings.Parse(["--init", "torch", "--seed", "2"]);

        // Checkpoints written before --partition-random existed carry this tag and must still resume.
        Assert.Equal(PartitionRandomSource.DotNet, settings.PartitionRandom);
        Assert.Equal(
            "model=cnn clients=10 epochs=1 batch=64 lr=0.01 momentum=0.9 wd=1E-05 train=0 test=0 seed=2 partition=classes:2 strategy=fedavg init=torch",
            settings.RunTag(PartitionSpec.Classes(2), "fedavg"));
    }

    [Theory]
    [InlineData("NumPy")]
    [InlineData("torch")]
    [InlineData("")]
    public void PartitionRandom_UnknownValue_IsRejectedByName(string value)
    {
        var error = Assert.Throws<FormatException>(() => ExperimentSettings.Parse(["--partition-random", value]));

        Assert.Contains("--partition-random", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PartitionRandom_Numpy_WithNegativeSeed_IsRejected()
    {
        var error = Assert.Throws<FormatException>(() => ExperimentSettings.Parse(["--seed", "-3", "--partition-random", "numpy"]));

        Assert.Contains("--seed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PartitionRandom_WithoutValue_IsRejected()
    {
        var error = Assert.Throws<FormatException>(() => ExperimentSettings.Parse(["--partition-random"]));

        Assert.Contains("needs a value", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PartitionSeed_Default_IsTheSeedAndLeavesTheRunTagAsBefore()
    {
        var plain = ExperimentSettings.Parse(["--partition-random", "numpy", "--seed", "42", "--init", "torch"]);
        var same = ExperimentSettings.Parse(["--partition-random", "numpy", "--seed", "42", "--partition-seed", "42", "--init", "torch"]);

        // A run whose partition seed equals its seed is the run made before the option existed.
        Assert.Equal(42, plain.PartitionSeed);
        Assert.Equal(plain.RunTag(PartitionSpec.Classes(2), "fedavg"), same.RunTag(PartitionSpec.Classes(2), "fedavg"));
    }

    [Fact]
    public void PartitionSeed_Different_IsUsedAndNamedInTheRunTag()
    {
        var settings = ExperimentSettings.Parse(["--seed", "43", "--partition-seed", "42", "--partition-random", "numpy"]);

        Assert.Equal(43, settings.Seed);
        Assert.Equal(42, settings.PartitionSeed);
        Assert.EndsWith(" partition-random=numpy partition-seed=42", settings.RunTag(PartitionSpec.Classes(2), "fedavg"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("forty-two")]
    [InlineData("99999999999")]
    public void PartitionSeed_BadValue_IsRejectedByName(string value)
    {
        var error = Assert.Throws<FormatException>(() => ExperimentSettings.Parse(["--seed", "1", "--partition-seed", value, "--partition-random", "numpy"]));

        Assert.Contains("--partition-seed", error.Message, StringComparison.Ordinal);
    }
}
