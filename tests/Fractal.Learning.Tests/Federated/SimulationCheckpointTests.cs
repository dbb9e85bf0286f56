using Fractal.Learning.Data;
using Fractal.Learning.Federated;
using Fractal.Learning.Specs;

namespace Fractal.Learning.Tests.Federated;

public sealed class SimulationCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fractal-checkpoint-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static FederatedSimulationOptions Options(int rounds, string? checkpoint = null, SimulationCheckpoint? resume = null) => new()
    {
        Rounds = rounds,
        LocalEpochs = 1,
        TestSamples = 500,
        Seed = 5,
        CheckpointPath = checkpoint,
        CheckpointTag = "mlp iid 3 clients",
        ResumeFrom = resume,
    };

    private static IReadOnlyList<RoundMetrics> Simulate(FederatedSimulationOptions options, string strategy = "fedavg")
    {
        var train = FashionMnist.Load(DatasetSplit.Train).Take(900);
        var test = FashionMnist.Load(DatasetSplit.Test);
        return FederatedSimulation.Run(ModelSpecs.Mlp(), FederatedStrategy.Parse(strategy), train, Partitioners.Iid(train.Count, 3, seed: 1), test, options);
    }

    [Fact]
    public void Resume_FromARoundsCheckpoint_GivesTheSameRoundsAsAnUninterruptedRun()
    {
        var straightPath = Path.Combine(_dir, "straight.checkpoint");
        var straight = Simulate(Options(3, straightPath));

        var splitPath = Path.Combine(_dir, "split.checkpoint");
        Simulate(Options(1, splitPath));
        var afterOne = SimulationCheckpoint.Load(splitPath);
        var resumed = Simulate(Options(3, splitPath, afterOne));

        Assert.Equal(1, afterOne.CompletedRounds);
        Assert.Equal([2, 3], resumed.Select(m => m.Round));
        Assert.Equal(straight.Skip(2).Select(m => m.TestAccuracy), resumed.Select(m => m.TestAccuracy));
        var final = SimulationCheckpoint.Load(splitPath);
        Assert.Equal(3, final.CompletedRounds);
        Assert.Equal(SimulationCheckpoint.Load(straightPath).Weights, final.Weights);
        Assert.Equal("mlp iid 3 clients", final.Tag);
    }

    [Fact]
    public void Resume_WithAServerOptimizerThatKeepsState_IsRefused()
    {
        var weights = ParameterVectors.Flatten(ModelParameters.Initialize(ModelSpecs.Mlp(), 5));
        var checkpoint = new SimulationCheckpoint(1, weights, "t");

        var error = Assert.Throws<NotSupportedException>(() => Simulate(Options(2, resume: checkpoint), "fedavgm"));
        Assert.Contains("fedavgm", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resume_WithWeightsOfAnotherModel_IsRefused()
    {
        var checkpoint = new SimulationCheckpoint(1, new float[10], "t");

        var error = Assert.Throws<ArgumentException>(() => Simulate(Options(2, resume: checkpoint)));
        Assert.Contains("10 weights", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SaveLoad_RoundTripsRoundsWeightsAndTag()
    {
        var path = Path.Combine(_dir, "c.checkpoint");
        new SimulationCheckpoint(7, [1.5f, -2f, float.Epsilon], "tag ü").Save(path);

        var loaded = SimulationCheckpoint.Load(path);

        Assert.Equal(7, loaded.CompletedRounds);
        Assert.Equal([1.5f, -2f, float.Epsilon], loaded.Weights);
        Assert.Equal("tag ü", loaded.Tag);
        Assert.False(File.Exists(path + ".tmp"));
    }

    public static TheoryData<string, string> DamagedFiles() => new()
    {
        { "empty", "not a simulation checkpoint" },
        { "text", "not a simulation checkpoint" },
        { "truncated", "checksum" },
        { "flipped", "checksum" },
    };

    [Theory]
    [MemberData(nameof(DamagedFiles))]
    public void Load_DamagedFile_FailsWithAClearError(string damage, string expected)
    {
        var path = Path.Combine(_dir, "c.checkpoint");
        new SimulationCheckpoint(3, Enumerable.Range(0, 100).Select(i => (float)i).ToArray(), "t").Save(path);
        var bytes = File.ReadAllBytes(path);
        byte[] damaged = damage switch
        {
            "empty" => [],
            "text" => "round,test_accuracy\n1,0.5\n"u8.ToArray(),
            "truncated" => bytes[..^40],
            _ => Flip(bytes, 30),
        };
        File.WriteAllBytes(path, damaged);

        var error = Assert.Throws<InvalidDataException>(() => SimulationCheckpoint.Load(path));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    private static byte[] Flip(byte[] bytes, int at)
    {
        var copy = bytes.ToArray();
        copy[at] ^= 0x40;
        return copy;
    }
}
