using System.Globalization;
using Fractal.Learning.Data;
using Fractal.Learning.Federated;
using Fractal.Learning.Specs;

namespace Fractal.Experiments;

/// <summary>Command-line settings; defaults are NIID-Bench's (10 clients, batch 64, SGD 0.01, momentum 0.9, wd 1e-5).</summary>
internal sealed class ExperimentSettings
{
    public const string Usage = """
        fractal-experiments: simulate federated training on Fashion-MNIST in one process.

        Options (defaults in brackets):
          --partition LIST   comma-separated: iid, dirichlet:BETA, classes:K      [iid]
          --strategy LIST    comma-separated: fedavg, fedprox:MU (also fedavgm,     [fedavg]
                             fedadam, median, trimmed:F, clip:NORM)
          --model NAME       cnn (NIID-Bench simple CNN) or mlp (784-200-200-10)   [cnn]
          --clients N        clients, all taking part every round                  [10]
          --rounds R         federated rounds                                      [10]
          --epochs E         local epochs per round                                [1]
          --batch B          local batch size                                      [64]
          --lr X             local SGD learning rate                               [0.01]
          --momentum X       local SGD momentum                                    [0.9]
          --weight-decay X   local L2 weight decay                                 [1e-5]
          --train-samples N  use only the first N training images (0: all 60000)   [0]
          --test-samples N   evaluate on the first N test images (0: all 10000)    [0]
          --seed S           seed for partition, initialization and shuffling      [0]
          --partition-seed S seed for the partition alone, so that runs with     [--seed]
                             different --seed train on one partition (Flower's
                             NIID-Bench kept dataset seed 42 for all its runs)
          --init NAME        initial weights: he, or torch (PyTorch's default, as   [he]
                             NIID-Bench's models start)
          --partition-random dotnet, or numpy (numpy's RandomState, as Flower's     [dotnet]
                             NIID-Bench: the reference's partition for the seed)
          --threads T        ONNX Runtime intra-op threads                         [2]
          --data DIR         Fashion-MNIST directory     [/usr/share/datasets/fashion-mnist]
          --out DIR          output directory for CSV and SVG                      [experiments]
          --resume           go on from each run's last checkpoint in --out (the
                             rounds before it are kept); --rounds may be raised
        """;

    public IReadOnlyList<PartitionSpec> Partitions { get; private set; } = [PartitionSpec.Iid];

    public IReadOnlyList<string> Strategies { get; private set; } = ["fedavg"];

    public string Model { get; private set; } = "cnn";

    public int Clients { get; private set; } = 10;

    public int Rounds { get; private set; } = 10;

    public int Epochs { get; private set; } = 1;

    public int BatchSize { get; private set; } = 64;

    public float LearningRate { get; private set; } = 0.01f;

    public float Momentum { get; private set; } = 0.9f;

    public float WeightDecay { get; private set; } = 1e-5f;

    public int TrainSamples { get; private set; }

    public int TestSamples { get; private set; }

    public int Seed { get; private set; }

    /// <summary>The partition's seed: <see cref="Seed"/> unless --partition-seed gives another.</summary>
    public int PartitionSeed => _explicitPartitionSeed ?? Seed;

    private int? _explicitPartitionSeed;

    public ParameterInitialization Initialization { get; private set; } = ParameterInitialization.He;

    public PartitionRandomSource PartitionRandom { get; private set; } = PartitionRandomSource.DotNet;

    public int Threads { get; private set; } = 2;

    public string DataDirectory { get; private set; } = FashionMnist.DefaultDirectory;

    public string OutputDirectory { get; private set; } = "experiments";

    public bool Resume { get; private set; }

    /// <summary>
    /// What a checkpoint of one run must match to be resumed: every setting that changes the
    /// results except the number of rounds (a finished run may be extended).
    /// </summary>
    public string RunTag(PartitionSpec partition, string strategy) => string.Create(
        CultureInfo.InvariantCulture,
        $"model={Model} clients={Clients} epochs={Epochs} batch={BatchSize} lr={LearningRate} momentum={Momentum} wd={WeightDecay} train={TrainSamples} test={TestSamples} seed={Seed} partition={partition} strategy={strategy}{(Initialization == ParameterInitialization.He ? string.Empty : " init=torch")}{(PartitionRandom == PartitionRandomSource.DotNet ? string.Empty : " partition-random=numpy")}{(PartitionSeed == Seed ? string.Empty : $" partition-seed={PartitionSeed}")}");

    /// <summary>Parses the arguments.</summary>
    /// <exception cref="FormatException">An option is unknown, lacks its value, or has a bad value; the message names it.</exception>
    public static ExperimentSettings Parse(IReadOnlyList<string> args)
    {
        var s = new ExperimentSettings();
        for (var i = 0; i < args.Count; i++)
        {
            var option = args[i];
            if (option == "--resume")
            {
                s.Resume = true;
                continue;
            }

            if (i + 1 >= args.Count)
            {
                throw new FormatException($"Option {option} needs a value.");
            }

            var value = args[++i];
            switch (option)
            {
                case "--partition":
                    s.Partitions = [.. Split(value).Select(PartitionSpec.Parse)];
                    break;
                case "--strategy":
                    var strategies = Split(value).ToArray();
                    foreach (var name in strategies)
                    {
                        // Throws FormatException naming the strategy when it is unknown.
                        FederatedStrategy.Parse(name);
                    }

                    s.Strategies = strategies;
                    break;
                case "--model":
                    s.Model = value is "cnn" or "mlp" ? value : throw new FormatException($"Option --model: '{value}' is not cnn or mlp.");
                    break;
                case "--clients":
                    s.Clients = Int(option, value, 1, 10_000);
                    break;
                case "--rounds":
                    s.Rounds = Int(option, value, 1, 100_000);
                    break;
                case "--epochs":
                    s.Epochs = Int(option, value, 1, 10_000);
                    break;
                case "--batch":
                    s.BatchSize = Int(option, value, 1, 65_536);
                    break;
                case "--lr":
                    s.LearningRate = Float(option, value);
                    break;
                case "--momentum":
                    s.Momentum = Float(option, value);
                    break;
                case "--weight-decay":
                    s.WeightDecay = Float(option, value);
                    break;
                case "--train-samples":
                    s.TrainSamples = Int(option, value, 0, 60_000);
                    break;
                case "--test-samples":
                    s.TestSamples = Int(option, value, 0, 10_000);
                    break;
                case "--seed":
                    s.Seed = Int(option, value, int.MinValue, int.MaxValue);
                    break;
                case "--partition-seed":
                    s._explicitPartitionSeed = Int(option, value, int.MinValue, int.MaxValue);
                    break;
                case "--init":
                    s.Initialization = OneOf(option, value, ("he", ParameterInitialization.He), ("torch", ParameterInitialization.TorchDefault));
                    break;
                case "--partition-random":
                    s.PartitionRandom = OneOf(option, value, ("dotnet", PartitionRandomSource.DotNet), ("numpy", PartitionRandomSource.Numpy));
                    break;
                case "--threads":
                    s.Threads = Int(option, value, 1, 256);
                    break;
                case "--data":
                    s.DataDirectory = value;
                    break;
                case "--out":
                    s.OutputDirectory = value;
                    break;
                default:
                    throw new FormatException($"Unknown option {option}.");
            }
        }

        if (s.PartitionRandom == PartitionRandomSource.Numpy && s.PartitionSeed < 0)
        {
            var option = s._explicitPartitionSeed is null ? "--seed" : "--partition-seed";
            throw new FormatException($"Option {option}: {s.PartitionSeed} is negative; numpy's RandomState (--partition-random numpy) takes seeds from 0 to 2147483647 here.");
        }

        return s;
    }

    /// <summary>The value named <paramref name="value"/>, or a FormatException listing the names.</summary>
    private static T OneOf<T>(string option, string value, params (string Name, T Value)[] choices)
    {
        foreach (var (name, choice) in choices)
        {
            if (name == value)
            {
                return choice;
            }
        }

        throw new FormatException($"Option {option}: '{value}' is not {string.Join(" or ", choices.Select(c => c.Name))}.");
    }

    private static string[] Split(string value) =>
        value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static int Int(string option, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new FormatException($"Option {option}: '{value}' is not an integer in {min}..{max}.");

    private static float Float(string option, string value) =>
        float.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && float.IsFinite(x) && x >= 0
            ? x
            : throw new FormatException($"Option {option}: '{value}' is not a non-negative number.");
}
