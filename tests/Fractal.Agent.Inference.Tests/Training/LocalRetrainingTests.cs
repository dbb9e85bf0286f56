using Fractal.Agent.Inference.Models;
using Fractal.Agent.Inference.Tests.Serving;
using Fractal.Agent.Inference.Training;
using Fractal.Learning.Onnx;
using Fractal.Learning.Specs;
using Fractal.Testing;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;

namespace Fractal.Agent.Inference.Tests.Training;

/// <summary>
/// Distributed learning on a real agent host: labeled readings arrive over MQTT, the buffer keeps
/// them in the stream's training reservoir, and the node retrains its model on them.
/// </summary>
public sealed class LocalRetrainingTests : IDisposable
{
    private const string Stream = "camera";
    private readonly TestDirectory _dir = new("local-retraining");

    public void Dispose() => _dir.Dispose();

    private Task<PredictingAgent> StartAsync(params (string Key, string Value)[] settings)
    {
        var all = new Dictionary<string, string?>
        {
            [$"Streams:{Stream}:Inference"] = "true",
            [$"Streams:{Stream}:Upload"] = "None",
            [$"Streams:{Stream}:TrainingReservoir"] = "400",
            [$"Streams:{Stream}:RetrainLocally"] = "true",
            ["Streams:other:Priority"] = "1",
            ["Inference:LocalTrainingMinSamples"] = "100",
            ["Inference:LocalTrainingEpochs"] = "20",
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        return PredictingAgent.StartAsync(_dir.Path, all);
    }

    private static LocalRetrainingService Retraining(PredictingAgent agent) => agent.Services.GetRequiredService<LocalRetrainingService>();

    /// <summary>The class is the index of the largest of the first three values: one dense layer can learn it.</summary>
    private static (float[] Values, int Label) Separable(Random random)
    {
        var label = random.Next(TestModels.Classes);
        var values = new float[TestModels.Inputs];
        for (var j = 0; j < values.Length; j++)
        {
            values[j] = (float)random.NextDouble() + (j == label ? 2f : 0f);
        }

        return (values, label);
    }

    private static async Task PublishLabeledAsync(PredictingAgent agent, int count, int seed)
    {
        var random = new Random(seed);
        for (var i = 0; i < count; i++)
        {
            var (values, label) = Separable(random);
            Assert.Equal(MqttClientPublishReasonCode.Success, await agent.PublishAsync(Stream, values, label));
        }
    }

    /// <summary>A model that already answers the separable task perfectly.</summary>
    private static byte[] PerfectOnnx()
    {
        var spec = TestModels.Spec();
        var parameters = ModelParameters.Zeros(spec);
        for (var k = 0; k < TestModels.Classes; k++)
        {
            parameters["layers.0.weight"].Data[(k * TestModels.Inputs) + k] = 5f;
        }

        return InferenceModelBuilder.Build(spec, parameters);
    }

    [Fact]
    public async Task BetterOnHeldOutSamples_IsDeployedOnTheNode_PreviousKeptForRollback_AndSurvivesRestart()
    {
        string localVersion;
        await using (var agent = await StartAsync())
        {
            agent.Deployer.Deploy("v1", TestModels.SpecJson(), TestModels.Onnx(favoured: 0));
            await PublishLabeledAsync(agent, 300, seed: 1);

            var outcome = await Retraining(agent).RetrainAsync(Stream).WaitAsync(TimeSpan.FromSeconds(60));

            Assert.Equal(RetrainingResult.Kept, outcome.Result);
            Assert.Equal("v1", outcome.FromVersion);
            Assert.StartsWith("v1" + LocalRetrainingService.VersionMarker, outcome.NewVersion, StringComparison.Ordinal);
            Assert.InRange(outcome.Accuracy!.Before, 0.1, 0.6); // "always class 0" on three balanced classes
            Assert.InRange(outcome.Accuracy.After, 0.9, 1.0);
            Assert.Equal(outcome.NewVersion, agent.Runtime.Active!.Version);
            Assert.Equal("v1", agent.Runtime.Previous!.Version);
            Assert.Equal(1, agent.Metrics.LocalTrainings.WithLabels(Stream, "kept").Value);
            Assert.Equal(outcome.Accuracy.After, agent.Metrics.HoldoutAccuracy.WithLabels(Stream, "retrained").Value);

            // New readings are predicted by the retrained version, and better than by v1.
            var random = new Random(99);
            var fresh = Enumerable.Range(0, 30).Select(_ => Separable(random)).ToArray();
            for (var i = 0; i < fresh.Length; i++)
            {
                await agent.PublishAsync(Stream, fresh[i].Values, fresh[i].Label, id: $"fresh-{i}");
            }

            var predictions = (await agent.WaitForPredictionsAsync(Stream, 300 + fresh.Length))
                .Where(p => p.TryGetProperty("id", out var id) && id.GetString()!.StartsWith("fresh-", StringComparison.Ordinal))
                .ToArray();
            Assert.Equal(fresh.Length, predictions.Length);
            Assert.All(predictions, p => Assert.Equal(outcome.NewVersion, p.GetProperty("model").GetString()));
            Assert.True(predictions.Count(p => p.GetProperty("label").GetInt32() == p.GetProperty("expected").GetInt32()) >= 27);
            localVersion = outcome.NewVersion!;
        }

        // Kept means staged: a restarted agent serves the retrained version, with v1 behind it.
        await using (var restarted = await StartAsync())
        {
            Assert.Equal(localVersion, restarted.Runtime.Active!.Version);
            Assert.Equal("v1", restarted.Runtime.Previous!.Version);
            restarted.Deployer.Rollback();
            Assert.Equal("v1", restarted.Runtime.Active!.Version);
        }
    }

    [Fact]
    public async Task NotBetterOnHeldOutSamples_IsDiscarded_ActiveModelKeepsServing()
    {
        await using var agent = await StartAsync();
        agent.Deployer.Deploy("v1", TestModels.SpecJson(), PerfectOnnx());
        await PublishLabeledAsync(agent, 200, seed: 2);

        var outcome = await Retraining(agent).RetrainAsync(Stream).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(RetrainingResult.Discarded, outcome.Result);
        Assert.Equal(1.0, outcome.Accuracy!.Before);
        Assert.Contains("not better", outcome.Reason, StringComparison.Ordinal);
        Assert.Equal("v1", agent.Runtime.Active!.Version);
        Assert.Null(agent.Runtime.Previous);
        Assert.Equal(1, agent.Metrics.LocalTrainings.WithLabels(Stream, "discarded").Value);
    }

    [Fact]
    public async Task SamplesThatDoNotFitTheModel_AreLeftOut_AndCounted()
    {
        await using var agent = await StartAsync();
        agent.Deployer.Deploy("v1", TestModels.SpecJson(), TestModels.Onnx(favoured: 0));
        await PublishLabeledAsync(agent, 60, seed: 3);
        for (var i = 0; i < 30; i++)
        {
            // Too many values for the model, and a class the model does not have.
            await agent.PublishAsync(Stream, [1f, 2f, 3f, 4f, 5f], label: 0);
            await agent.PublishAsync(Stream, [1f, 2f, 3f, 4f], label: TestModels.Classes + i);
        }

        var outcome = await Retraining(agent).RetrainAsync(Stream);

        Assert.Equal(RetrainingResult.Skipped, outcome.Result);
        Assert.Contains("60 usable labeled samples, 100 needed (60 others do not fit model v1)", outcome.Reason, StringComparison.Ordinal);
        Assert.Equal("v1", agent.Runtime.Active!.Version);
    }

    [Fact]
    public async Task NoActiveModel_OrAStreamThatDoesNotRetrain_IsSkipped()
    {
        await using var agent = await StartAsync();
        await PublishLabeledAsync(agent, 150, seed: 4);

        var noModel = await Retraining(agent).RetrainAsync(Stream);
        agent.Deployer.Deploy("v1", TestModels.SpecJson(), TestModels.Onnx(favoured: 0));
        var otherStream = await Retraining(agent).RetrainAsync("other");

        Assert.Equal(RetrainingResult.Skipped, noModel.Result);
        Assert.Equal("no model is active", noModel.Reason);
        Assert.Equal(RetrainingResult.Skipped, otherStream.Result);
        Assert.Contains("RetrainLocally", otherStream.Reason, StringComparison.Ordinal);
        Assert.Equal("v1", agent.Runtime.Active!.Version);
    }

    [Fact]
    public async Task OnItsInterval_TheServiceRetrainsEachRetrainingStream()
    {
        await using var agent = await StartAsync(("Inference:LocalTrainingInterval", "00:00:01"));
        agent.Deployer.Deploy("v1", TestModels.SpecJson(), TestModels.Onnx(favoured: 0));
        await PublishLabeledAsync(agent, 200, seed: 5);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (agent.Runtime.Active!.Version == "v1" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.StartsWith("v1" + LocalRetrainingService.VersionMarker, agent.Runtime.Active!.Version, StringComparison.Ordinal);
        Assert.True(agent.Metrics.LocalTrainings.WithLabels(Stream, "kept").Value >= 1);
    }

    [Theory]
    [InlineData("v1", "v1-local-20261204T203015123")]
    [InlineData("v1-local-20261101T000000000", "v1-local-20261204T203015123")]
    [InlineData("fashion.cnn_7", "fashion.cnn_7-local-20261204T203015123")]
    public void LocalVersion_NamesTheOriginAndTheTime(string active, string expected)
    {
        var now = new DateTimeOffset(2026, 12, 4, 20, 30, 15, 123, TimeSpan.Zero);

        Assert.Equal(expected, LocalRetrainingService.LocalVersion(active, now));
    }

    [Fact]
    public void LocalVersion_OfALongName_StaysAValidVersion()
    {
        var version = LocalRetrainingService.LocalVersion(new string('a', 128), DateTimeOffset.UnixEpoch);

        Assert.Equal(128, version.Length);
        Assert.EndsWith("-local-19700101T000000000", version, StringComparison.Ordinal);
        ModelStore.ValidateVersion(version);
    }
}
