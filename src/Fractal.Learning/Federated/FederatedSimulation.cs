using Fractal.Learning.Data;
using Fractal.Learning.Specs;
using Fractal.Learning.Training;

namespace Fractal.Learning.Federated;

/// <summary>Settings of an in-process federated simulation (defaults follow NIID-Bench).</summary>
public sealed class FederatedSimulationOptions
{
    /// <summary>Federated rounds.</summary>
    /// <value>The default value is 10.</value>
    public int Rounds { get; init; } = 10;

    /// <summary>Local epochs per round.</summary>
    /// <value>The default value is 1.</value>
    public int LocalEpochs { get; init; } = 1;

    /// <summary>Local mini-batch size.</summary>
    /// <value>The default value is 64.</value>
    public int BatchSize { get; init; } = 64;

    /// <summary>Local SGD learning rate.</summary>
    /// <value>The default value is 0.01.</value>
    public float LearningRate { get; init; } = 0.01f;

    /// <summary>Local SGD momentum.</summary>
    /// <value>The default value is 0.9.</value>
    public float Momentum { get; init; } = 0.9f;

    /// <summary>Local L2 weight decay.</summary>
    /// <value>The default value is 1e-5.</value>
    public float WeightDecay { get; init; } = 1e-5f;

    /// <summary>Seed for model initialization and local shuffling.</summary>
    /// <value>The default value is 0.</value>
    public int Seed { get; init; }

    /// <summary>How the initial global model is drawn (from <see cref="Seed"/>).</summary>
    public ParameterInitialization Initialization { get; init; } = ParameterInitialization.He;

    /// <summary>ONNX Runtime intra-op threads for training and evaluation.</summary>
    /// <value>The default value is 1.</value>
    public int IntraOpThreads { get; init; } = 1;

    /// <summary>Test samples used for the per-round accuracy (the first ones of the test set); 0 for all.</summary>
    /// <value>The default value is 0.</value>
    public int TestSamples { get; init; }

    /// <summary>
    /// Goes on from this checkpoint's global model at round <c>CompletedRounds + 1</c> (round 0 is
    /// not evaluated again). Needs a server step without state across rounds.
    /// </summary>
    /// <value>The default value is null: start from the seeded initial model.</value>
    public SimulationCheckpoint? ResumeFrom { get; init; }

    /// <summary>Where to write a <see cref="SimulationCheckpoint"/> after every round (replaced atomically); null for none.</summary>
    /// <value>The default value is null.</value>
    public string? CheckpointPath { get; init; }

    /// <summary>The tag written into checkpoints: what experiment they belong to.</summary>
    /// <value>The default value is empty.</value>
    public string CheckpointTag { get; init; } = string.Empty;
}

/// <summary>Metrics of one federated round.</summary>
/// <param name="Round">1-based round; 0 is the initial model.</param>
/// <param name="TestAccuracy">Accuracy of the new global model on the test samples.</param>
/// <param name="MeanTrainLoss">Sample-weighted mean of the clients' last-epoch training loss (NaN for round 0).</param>
/// <param name="Clients">Clients that contributed.</param>
/// <param name="Samples">Samples behind the round's updates.</param>
public sealed record RoundMetrics(int Round, double TestAccuracy, double MeanTrainLoss, int Clients, long Samples);

/// <summary>
/// Simulates federated training with every client in one process: all clients take part in every
/// round, train locally from the global model (with the strategy's FedProx mu), and the server
/// aggregates their models with the strategy.
/// </summary>
/// <remarks>
/// Clients train one after another, each on its own <see cref="LocalTrainer"/>;
/// <see cref="LocalTrainer.SetParameters"/> resets the optimizer state every round (a fresh
/// local optimizer per round, as in NIID-Bench) and sets the FedProx anchor to the global model.
/// </remarks>
public static class FederatedSimulation
{
    /// <summary>Runs the simulation and returns the metrics of round 0 (initial model; not when resuming) to the last round.</summary>
    /// <param name="spec">The model.</param>
    /// <param name="strategy">The federated algorithm.</param>
    /// <param name="train">The training set the partition indexes.</param>
    /// <param name="partition">Which training samples each client holds.</param>
    /// <param name="test">The test set for the per-round accuracy.</param>
    /// <param name="options">Hyper-parameters.</param>
    /// <param name="onRound">Called after every round (for progress output and CSV rows).</param>
    /// <param name="cancellationToken">Checked between training steps.</param>
    public static IReadOnlyList<RoundMetrics> Run(
        ModelSpec spec,
        FederatedStrategy strategy,
        LabeledImageSet train,
        DataPartition partition,
        LabeledImageSet test,
        FederatedSimulationOptions options,
        Action<RoundMetrics>? onRound = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(strategy);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(partition);
        ArgumentNullException.ThrowIfNull(test);
        ArgumentNullException.ThrowIfNull(options);
        if (train.PixelsPerImage != spec.InputSize || test.PixelsPerImage != spec.InputSize)
        {
            throw new ArgumentException($"Model '{spec.Name}' takes {spec.InputSize} values per sample; the images have {train.PixelsPerImage}.", nameof(spec));
        }

        var clients = partition.Clients
            .Where(indices => indices.Length > 0)
            .Select(indices => train.Subset(indices))
            .Select(set => (Images: set.ToRawFloats(), Labels: set.GetLabelsAsInt32(), set.Count))
            .ToArray();
        var testCount = options.TestSamples > 0 ? Math.Min(options.TestSamples, test.Count) : test.Count;
        var testImages = test.Take(testCount).ToRawFloats();
        var testLabels = test.Take(testCount).GetLabelsAsInt32();

        var initial = ModelParameters.Initialize(spec, options.Seed, options.Initialization);
        var startWeights = ParameterVectors.Flatten(initial);
        if (options.ResumeFrom is { } resume)
        {
            if (strategy.CreateServerOptimizer().KeepsStateAcrossRounds)
            {
                throw new NotSupportedException($"Strategy '{strategy.Name}' keeps server state across rounds; a checkpoint holds only the weights, so the run cannot resume.");
            }

            if (resume.Weights.Length != startWeights.Length)
            {
                throw new ArgumentException($"The checkpoint has {resume.Weights.Length} weights; model '{spec.Name}' has {startWeights.Length}.", nameof(options));
            }

            startWeights = resume.Weights;
        }

        var server = new FederatedServer(strategy, startWeights);
        var trainerOptions = new LocalTrainerOptions
        {
            Optimizer = OptimizerKind.Sgd,
            LearningRate = options.LearningRate,
            Momentum = options.Momentum,
            WeightDecay = options.WeightDecay,
            ProximalMu = (float)strategy.ProximalMu,
            IntraOpThreads = options.IntraOpThreads,
        };
        // One trainer per client, as on real nodes: each keeps its own two batch sizes (full and
        // tail) bound for all rounds. One shared trainer would also be correct (its LRU eviction
        // never drops the binding in use) but would rebuild a tail binding for most clients in
        // every round once more than four sizes are in play; a session per client costs only
        // memory (tens of MB for ten CNN clients) and start-up time.
        var trainers = new LocalTrainer[clients.Length];
        try
        {
            for (var c = 0; c < trainers.Length; c++)
            {
                trainers[c] = new LocalTrainer(spec, trainerOptions, initial);
            }

            return Simulate(options, clients, testImages, testLabels, testCount, initial, server, trainers, onRound, cancellationToken);
        }
        finally
        {
            foreach (var trainer in trainers)
            {
                trainer?.Dispose();
            }
        }
    }

    private static List<RoundMetrics> Simulate(
        FederatedSimulationOptions options,
        (float[] Images, int[] Labels, int Count)[] clients,
        float[] testImages,
        int[] testLabels,
        int testCount,
        ModelParameters initial,
        FederatedServer server,
        LocalTrainer[] trainers,
        Action<RoundMetrics>? onRound,
        CancellationToken cancellationToken)
    {
        var evaluator = trainers[0];
        var history = new List<RoundMetrics>(options.Rounds + 1);
        var first = (options.ResumeFrom?.CompletedRounds ?? 0) + 1;
        if (first == 1)
        {
            var start = new RoundMetrics(0, evaluator.Evaluate(initial, testImages, testLabels, testCount), double.NaN, 0, 0);
            history.Add(start);
            onRound?.Invoke(start);
        }

        for (var r = first; r <= options.Rounds; r++)
        {
            var global = server.GetParameters(initial);
            using var round = server.BeginRound();
            var lossSum = 0.0;
            for (var c = 0; c < clients.Length; c++)
            {
                var client = clients[c];
                var trainer = trainers[c];
                trainer.SetParameters(global);

                // A fixed per-(seed, round, client) shuffle seed: runs are reproducible.
                var seed = unchecked((options.Seed * 1_000_003) + (r * 10_007) + c);
                var report = trainer.TrainEpochs(
                    client.Images, client.Labels, client.Count, options.LocalEpochs, options.BatchSize, seed, cancellationToken);
                lossSum += report.FinalLoss * client.Count;
                round.AddClientParameters(trainer.GetParameters(), client.Count);
            }

            var samples = round.SampleCount;
            var weights = round.Complete();
            var accuracy = evaluator.Evaluate(ParameterVectors.Unflatten(weights, initial), testImages, testLabels, testCount);
            var metrics = new RoundMetrics(r, accuracy, lossSum / samples, clients.Length, samples);
            history.Add(metrics);
            onRound?.Invoke(metrics);

            // After the round is reported: whatever the caller records of a round is never
            // behind the checkpoint that a resumed run goes on from.
            if (options.CheckpointPath is { } path)
            {
                new SimulationCheckpoint(r, weights, options.CheckpointTag).Save(path);
            }
        }

        return history;
    }
}
