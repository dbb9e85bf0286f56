using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Fractal.Experiments;
using Fractal.Learning.Data;
using Fractal.Learning.Federated;
using Fractal.Learning.Specs;

// Exit codes follow sysexits.h: 64 bad usage, 65 a checkpoint or CSV that cannot be resumed, 66 missing input data.
const int ExitUsage = 64;
const int ExitNoInput = 66;
const int ExitDataError = 65;
const string CsvHeader = "round,test_accuracy,mean_train_loss,clients,samples,seconds\n";

if (args is ["--help"] or ["-h"])
{
    Console.WriteLine(ExperimentSettings.Usage);
    Console.WriteLine(PlotCommand.Usage);
    Console.WriteLine(SummaryCommand.Usage);
    return 0;
}

if (args is ["summary", ..])
{
    try
    {
        Console.Write(SummaryCommand.Run(args[1..]));
        return 0;
    }
    catch (FormatException ex)
    {
        await Console.Error.WriteLineAsync($"{ex.Message}\n\n{SummaryCommand.Usage}");
        return ExitUsage;
    }
}

if (args is ["plot", ..])
{
    try
    {
        PlotCommand.Run(args[1..]);
        return 0;
    }
    catch (FormatException ex)
    {
        await Console.Error.WriteLineAsync($"{ex.Message}\n\n{PlotCommand.Usage}");
        return ExitUsage;
    }
}

ExperimentSettings settings;
try
{
    settings = ExperimentSettings.Parse(args);
}
catch (FormatException ex)
{
    await Console.Error.WriteLineAsync($"{ex.Message}\n\n{ExperimentSettings.Usage}");
    return ExitUsage;
}

if (!FashionMnist.IsAvailable(settings.DataDirectory))
{
    await Console.Error.WriteLineAsync($"Fashion-MNIST not found in {settings.DataDirectory} (install Debian's dataset-fashion-mnist or pass --data).");
    return ExitNoInput;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

// SIGTERM (timeout(1), systemd, kill) stops the run like Ctrl-C: the completed rounds and the
// chart are still written. A background job may have SIGINT ignored, so Ctrl-C alone is not enough.
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    cancel.Cancel();
});

var train = FashionMnist.Load(DatasetSplit.Train, settings.DataDirectory);
if (settings.TrainSamples > 0)
{
    train = train.Take(settings.TrainSamples);
}

var test = FashionMnist.Load(DatasetSplit.Test, settings.DataDirectory);
var spec = settings.Model == "mlp" ? ModelSpecs.Mlp() : ModelSpecs.SimpleCnn();
Directory.CreateDirectory(settings.OutputDirectory);
var time = TimeProvider.System;
var series = new List<(string Name, IReadOnlyList<(int Round, double Accuracy)> Points)>();

Console.WriteLine(string.Create(
    CultureInfo.InvariantCulture,
    $"model {spec}, {settings.Clients} clients, {settings.Rounds} rounds x {settings.Epochs} epochs, batch {settings.BatchSize}, lr {settings.LearningRate}, momentum {settings.Momentum}, wd {settings.WeightDecay}, train {train.Count}, seed {settings.Seed}, partition seed {settings.PartitionSeed}, init {settings.Initialization}, partition random {settings.PartitionRandom}"));

try
{
    foreach (var partitionSpec in settings.Partitions)
    {
        var partition = partitionSpec.Apply(train.Labels.Span, train.ClassCount, settings.Clients, settings.PartitionSeed, settings.PartitionRandom);
        var sizes = string.Join(' ', partition.Clients.Select(c => c.Length));
        var labels = train.Labels;

        // The classes each client holds: what decides a label-skewed run.
        var classes = string.Join(' ', partition.Clients.Select(c => string.Join(",", c.Select(i => labels.Span[i]).Distinct().Order())));
        foreach (var strategyName in settings.Strategies)
        {
            var strategy = FederatedStrategy.Parse(strategyName);
            var name = $"{partitionSpec} {strategy.Name}";
            var file = Path.Combine(settings.OutputDirectory, $"{Sanitize(partitionSpec.ToString())}_{Sanitize(strategy.Name)}{(settings.Initialization == ParameterInitialization.TorchDefault ? "_torch-init" : string.Empty)}.csv");
            Console.WriteLine($"== {name}: client sizes {sizes}; classes per client {classes}");

            var checkpointPath = Path.ChangeExtension(file, ".checkpoint");
            var tag = settings.RunTag(partitionSpec, strategy.Name);
            var (resume, csv, points, secondsBefore) = ResumePoint(settings.Resume, file, checkpointPath, tag);
            if (resume is not null)
            {
                Console.WriteLine($"resuming after round {resume.CompletedRounds} from {checkpointPath}");
            }

            var started = time.GetTimestamp();
            var options = new FederatedSimulationOptions
            {
                Rounds = settings.Rounds,
                LocalEpochs = settings.Epochs,
                BatchSize = settings.BatchSize,
                LearningRate = settings.LearningRate,
                Momentum = settings.Momentum,
                WeightDecay = settings.WeightDecay,
                Seed = settings.Seed,
                Initialization = settings.Initialization,
                IntraOpThreads = settings.Threads,
                TestSamples = settings.TestSamples,
                ResumeFrom = resume,
                CheckpointPath = checkpointPath,
                CheckpointTag = tag,
            };

            FederatedSimulation.Run(spec, strategy, train, partition, test, options, m =>
            {
                var seconds = secondsBefore + time.GetElapsedTime(started).TotalSeconds;
                var row = string.Create(CultureInfo.InvariantCulture, $"{m.Round},{m.TestAccuracy:F4},{m.MeanTrainLoss:F4},{m.Clients},{m.Samples},{seconds:F1}");
                csv.Append(row).Append('\n');
                points.Add((m.Round, m.TestAccuracy));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"round {m.Round,3}  accuracy {m.TestAccuracy:F4}  train loss {m.MeanTrainLoss:F4}  {seconds,7:F1} s"));

                // Rewritten every round so an interrupted run keeps its rows.
                File.WriteAllText(file, csv.ToString());
            }, cancel.Token);

            series.Add((name, points));
            Console.WriteLine($"wrote {file}");
        }
    }
}
catch (OperationCanceledException)
{
    await Console.Error.WriteLineAsync("Interrupted; writing the rounds completed so far.");
}
catch (InvalidDataException ex)
{
    await Console.Error.WriteLineAsync(ex.Message);
    return ExitDataError;
}
catch (NotSupportedException ex)
{
    await Console.Error.WriteLineAsync(ex.Message);
    return ExitUsage;
}

var svgPath = Path.Combine(settings.OutputDirectory, "accuracy.svg");
var title = $"Fashion-MNIST, {spec.Name}, {settings.Clients} clients, E={settings.Epochs}";
File.WriteAllText(svgPath, SvgChart.Render(title, series));
Console.WriteLine($"wrote {svgPath}");
return cancel.IsCancellationRequested ? 130 : 0;

// The checkpoint and CSV rows to go on from, or a fresh start. A checkpoint of other settings
// is an error, not a silent restart: hours of rounds are at stake.
static (SimulationCheckpoint? Checkpoint, StringBuilder Csv, List<(int, double)> Points, double Seconds) ResumePoint(
    bool resume, string csvPath, string checkpointPath, string tag)
{
    var csv = new StringBuilder(CsvHeader);
    var points = new List<(int, double)>();
    if (!resume || !File.Exists(checkpointPath))
    {
        return (null, csv, points, 0);
    }

    var checkpoint = SimulationCheckpoint.Load(checkpointPath);
    if (checkpoint.Tag != tag)
    {
        throw new InvalidDataException($"{checkpointPath} belongs to other settings ({checkpoint.Tag}); these are {tag}.");
    }

    var seconds = 0.0;
    var lines = File.Exists(csvPath) ? File.ReadAllLines(csvPath).Skip(1) : [];
    foreach (var line in lines)
    {
        var fields = line.Split(',');
        if (fields.Length < 6 || !int.TryParse(fields[0], CultureInfo.InvariantCulture, out var round) || round > checkpoint.CompletedRounds)
        {
            continue;
        }

        csv.Append(line).Append('\n');
        points.Add((round, double.Parse(fields[1], CultureInfo.InvariantCulture)));
        seconds = double.Parse(fields[5], CultureInfo.InvariantCulture);
    }

    if (points.Count == 0 || points[^1].Item1 != checkpoint.CompletedRounds)
    {
        throw new InvalidDataException($"{csvPath} lacks the rows up to round {checkpoint.CompletedRounds} that {checkpointPath} continues.");
    }

    return (checkpoint, csv, points, seconds);
}

static string Sanitize(string text) => string.Concat(text.Select(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' ? c : '-'));
