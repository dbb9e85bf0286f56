using Fractal.Agent.Inference.Training;
using Fractal.Learning.Specs;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Inference.Tests.Training;

public sealed class TrainingJobRunnerTests
{
    [Fact]
    public async Task RunAsync_SeparableData_ReturnsParametersThatLearnedIt()
    {
        using var runner = await StartedRunner();
        var request = SeparableJob(count: 256, epochs: 20);

        var result = await runner.RunAsync(request).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(256, result.SampleCount);
        Assert.True(result.Report.FinalLoss < result.Report.EpochLosses[0], $"losses {string.Join(", ", result.Report.EpochLosses)}");
        Assert.NotEqual(request.InitialParameters["layers.0.weight"].Data, result.Parameters["layers.0.weight"].Data);
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task RunAsync_CancelledWhileRunning_ThrowsOperationCanceled()
    {
        using var runner = await StartedRunner();
        using var cts = new CancellationTokenSource();
        var job = runner.RunAsync(SeparableJob(count: 1000, epochs: 100_000), cts.Token);

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => job.WaitAsync(TimeSpan.FromSeconds(30)));
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task RunAsync_JobAfterCancelledJob_StillRuns()
    {
        using var runner = await StartedRunner();
        using var cts = new CancellationTokenSource();
        var cancelled = runner.RunAsync(SeparableJob(count: 1000, epochs: 100_000), cts.Token);
        var next = runner.RunAsync(SeparableJob(count: 64, epochs: 1));

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(TimeSpan.FromSeconds(30)));
        var result = await next.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(64, result.SampleCount);
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task RunAsync_MoreSamplesThanAllowed_ThrowsNamingTheLimit()
    {
        using var runner = await StartedRunner(maxSamples: 100);

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => runner.RunAsync(SeparableJob(count: 256, epochs: 1)));

        Assert.Contains("MaxTrainingSamples", ex.Message, StringComparison.Ordinal);
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task RunAsync_WithHoldout_ScoresTheStartAndTheResult()
    {
        using var runner = await StartedRunner();
        var train = SeparableJob(count: 256, epochs: 20);
        var held = SeparableJob(count: 64, epochs: 1, seed: 2);
        var request = train with { Holdout = new HoldoutSet(held.Images, held.Labels, held.Count) };

        var result = await runner.RunAsync(request).WaitAsync(TimeSpan.FromSeconds(60));

        var expectedBefore = Learning.Training.ModelEvaluator.Evaluate(request.Spec, request.InitialParameters, held.Images, held.Labels, held.Count);
        var expectedAfter = Learning.Training.ModelEvaluator.Evaluate(request.Spec, result.Parameters, held.Images, held.Labels, held.Count);
        Assert.Equal(expectedBefore, result.Holdout!.Before);
        Assert.Equal(expectedAfter, result.Holdout.After);
        Assert.True(result.Holdout.After > result.Holdout.Before, $"{result.Holdout}");
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task RunAsync_HoldoutBeyondTheSampleLimit_ThrowsNamingTheLimit()
    {
        using var runner = await StartedRunner(maxSamples: 300);
        var held = SeparableJob(count: 64, epochs: 1, seed: 2);
        var request = SeparableJob(count: 256, epochs: 1) with { Holdout = new HoldoutSet(held.Images, held.Labels, held.Count) };

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => runner.RunAsync(request));

        Assert.Contains("256 + 64", ex.Message, StringComparison.Ordinal);
        await runner.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task RunAsync_HoldoutArraysShorterThanItsCount_Throws()
    {
        using var runner = await StartedRunner();
        var request = SeparableJob(count: 64, epochs: 1) with { Holdout = new HoldoutSet(new float[10], new int[10], 10) };

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => runner.RunAsync(request));

        Assert.Contains("holdout", ex.Message, StringComparison.Ordinal);
        await runner.StopAsync(CancellationToken.None);
    }

    private static async Task<TrainingJobRunner> StartedRunner(int maxSamples = 20_000)
    {
        var runner = new TrainingJobRunner(
            Options.Create(new InferenceOptions { MaxTrainingSamples = maxSamples }),
            NullLogger<TrainingJobRunner>.Instance);
        await runner.StartAsync(CancellationToken.None);
        return runner;
    }

    /// <summary>Class = index of the largest of the first three inputs: learnable by one dense layer.</summary>
    private static TrainingJobRequest SeparableJob(int count, int epochs, int seed = 1)
    {
        var spec = TestModels.Spec();
        var random = new Random(seed);
        var images = new float[count * TestModels.Inputs];
        var labels = new int[count];
        for (var i = 0; i < count; i++)
        {
            var label = random.Next(TestModels.Classes);
            for (var j = 0; j < TestModels.Inputs; j++)
            {
                images[(i * TestModels.Inputs) + j] = (float)random.NextDouble() + (j == label ? 2f : 0f);
            }

            labels[i] = label;
        }

        return new TrainingJobRequest(spec, ModelParameters.Initialize(spec, 1), images, labels, count)
        {
            Epochs = epochs,
            BatchSize = 32,
            LearningRate = 0.05f,
        };
    }
}
