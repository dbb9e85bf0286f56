using Fractal.Agent.Inference.Serving;
using Fractal.Agent.Sync;
using Fractal.Agent.Sync.Buffer;
using Fractal.Testing;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;

namespace Fractal.Agent.Inference.Tests.Serving;

public sealed class PredictionServiceTests : IDisposable
{
    private readonly TestDirectory _dir = new("predictions");

    public void Dispose() => _dir.Dispose();

    private Task<PredictingAgent> StartAsync(params (string Key, string Value)[] settings)
    {
        var all = new Dictionary<string, string?>
        {
            ["Streams:camera:Inference"] = "true",
            ["Streams:temperature:Priority"] = "1",
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        return PredictingAgent.StartAsync(_dir.Path, all);
    }

    private static float[] Sample(Random random) => [.. Enumerable.Range(0, TestModels.Inputs).Select(_ => (float)(random.NextDouble() * 4 - 2))];

    [Fact]
    public async Task InferenceStream_EachCommittedReading_GetsThePredictionOfTheActiveModel()
    {
        await using var agent = await StartAsync();
        agent.Deployer.Deploy("v1", TestModels.SpecJson(), TestModels.RandomOnnx(seed: 11));
        var random = new Random(5);
        var samples = Enumerable.Range(0, 40).Select(_ => Sample(random)).ToArray();

        for (var i = 0; i < samples.Length; i++)
        {
            Assert.Equal(MqttClientPublishReasonCode.Success, await agent.PublishAsync("camera", samples[i], label: i % TestModels.Classes, id: $"frame-{i}"));
        }

        var predictions = await agent.WaitForPredictionsAsync("camera", samples.Length);
        var correct = 0;
        for (var i = 0; i < samples.Length; i++)
        {
            // The same model called directly on the same values: the service adds nothing and loses nothing.
            var probabilities = new float[TestModels.Classes];
            var direct = agent.Runtime.Predict(samples[i], probabilities);
            var message = predictions.Single(p => p.GetProperty("id").GetString() == $"frame-{i}");
            Assert.Equal("v1", message.GetProperty("model").GetString());
            Assert.Equal(direct.Label, message.GetProperty("label").GetInt32());
            Assert.Equal(direct.Confidence, message.GetProperty("confidence").GetSingle());
            Assert.Equal(probabilities, message.GetProperty("probabilities").EnumerateArray().Select(p => p.GetSingle()).ToArray());
            Assert.Equal(i % TestModels.Classes, message.GetProperty("expected").GetInt32());
            correct += direct.Label == i % TestModels.Classes ? 1 : 0;
        }

        // The labels used are not all the model's answers, so online accuracy is a real fraction.
        Assert.InRange(correct, 1, samples.Length - 1);
        Assert.Equal(samples.Length, agent.Metrics.Labeled.WithLabels("v1").Value);
        Assert.Equal(correct, agent.Metrics.Correct.WithLabels("v1").Value);
        Assert.Equal(samples.Length, agent.Metrics.Published.WithLabels("camera").Value);
    }

    [Fact]
    public async Task StreamWithoutInferencePolicy_GetsNoPredictions()
    {
        await using var agent = await StartAsync();
        agent.Deployer.Deploy("v1", TestModels.SpecJson(), TestModels.Onnx(favoured: 1));

        for (var i = 0; i < 10; i++)
        {
            // Same size as the model's input, so only the policy keeps it from being predicted.
            Assert.Equal(MqttClientPublishReasonCode.Success, await agent.PublishAsync("temperature", [i, 1, 2, 3]));
            Assert.Equal(MqttClientPublishReasonCode.Success, await agent.PublishAsync("camera", [i, 1, 2, 3]));
        }

        // Predictions are published in acceptance order, so once the last camera one is in, any
        // temperature prediction would be too.
        var camera = await agent.WaitForPredictionsAsync("camera", 10);
        Assert.All(camera, p => Assert.Equal(1, p.GetProperty("label").GetInt32()));
        Assert.Equal(0, agent.PredictionCount("temperature"));
        Assert.Equal(20, agent.Services.GetRequiredService<DurableBuffer>().GetStats().BufferedRecords);
    }

    [Fact]
    public async Task ReadingOfTheWrongSize_IsCommittedAndCounted_NotPredicted()
    {
        await using var agent = await StartAsync();
        agent.Deployer.Deploy("v1", TestModels.SpecJson(), TestModels.Onnx(favoured: 2));

        Assert.Equal(MqttClientPublishReasonCode.Success, await agent.PublishAsync("camera", [1, 2, 3, 4, 5]));
        Assert.Equal(MqttClientPublishReasonCode.Success, await agent.PublishAsync("camera", [1, 2, 3, 4], id: "fits"));

        var predictions = await agent.WaitForPredictionsAsync("camera", 1);
        Assert.Equal("fits", Assert.Single(predictions).GetProperty("id").GetString());
        Assert.Equal(1, agent.Metrics.Skipped.WithLabels("camera", SkipReason.InputMismatch).Value);
        Assert.Equal(2, agent.Services.GetRequiredService<DurableBuffer>().GetStats().BufferedRecords);
    }

    [Fact]
    public async Task NoActiveModel_ReadingsAreStillCommitted_AndCountedAsNoModel()
    {
        await using var agent = await StartAsync();

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(MqttClientPublishReasonCode.Success, await agent.PublishAsync("camera", [i, 0, 0, 0]));
        }

        Assert.Equal(5, agent.Metrics.Skipped.WithLabels("camera", SkipReason.NoModel).Value);
        Assert.Equal(5, agent.Services.GetRequiredService<DurableBuffer>().GetStats().BufferedRecords);

        // A deployment while sensors stream: from then on readings are predicted.
        agent.Deployer.Deploy("v1", TestModels.SpecJson(), TestModels.Onnx(favoured: 0));
        Assert.Equal(MqttClientPublishReasonCode.Success, await agent.PublishAsync("camera", [9, 0, 0, 0], id: "after"));
        Assert.Equal("after", Assert.Single(await agent.WaitForPredictionsAsync("camera", 1)).GetProperty("id").GetString());
    }

    [Fact]
    public async Task HotSwapAndRollback_PredictionsFollowTheActiveVersion()
    {
        await using var agent = await StartAsync();
        agent.Deployer.Deploy("v1", TestModels.SpecJson(), TestModels.Onnx(favoured: 0));
        await agent.PublishAsync("camera", [0, 0, 0, 0], id: "a");
        await agent.WaitForPredictionsAsync("camera", 1);

        agent.Deployer.Deploy("v2", TestModels.SpecJson(), TestModels.Onnx(favoured: 2));
        await agent.PublishAsync("camera", [0, 0, 0, 0], id: "b");
        await agent.WaitForPredictionsAsync("camera", 2);

        agent.Deployer.Rollback();
        await agent.PublishAsync("camera", [0, 0, 0, 0], id: "c");
        var predictions = (await agent.WaitForPredictionsAsync("camera", 3)).ToDictionary(p => p.GetProperty("id").GetString()!);

        Assert.Equal(("v1", 0), (predictions["a"].GetProperty("model").GetString(), predictions["a"].GetProperty("label").GetInt32()));
        Assert.Equal(("v2", 2), (predictions["b"].GetProperty("model").GetString(), predictions["b"].GetProperty("label").GetInt32()));
        Assert.Equal(("v1", 0), (predictions["c"].GetProperty("model").GetString(), predictions["c"].GetProperty("label").GetInt32()));
    }

    [Fact]
    public async Task InferenceBehind_DropsOldestQueuedReadings_EveryAcceptedReadingIsAccountedFor()
    {
        // A queue of one: with readings arriving from several sensors at once, some must be dropped.
        await using var agent = await StartAsync(("Inference:PredictionQueueCapacity", "1"));
        agent.Deployer.Deploy("v1", TestModels.SpecJson(), TestModels.RandomOnnx(seed: 3));
        const int Readings = 400;

        await Task.WhenAll(Enumerable.Range(0, Readings).Select(i => agent.PublishAsync("camera", [i, 1, 2, 3], id: $"r{i}")));

        // Ingest never waited: every reading is committed whatever inference did with it.
        Assert.Equal(Readings, agent.Services.GetRequiredService<DurableBuffer>().GetStats().BufferedRecords);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        double Accounted() => agent.Metrics.Published.WithLabels("camera").Value + agent.Metrics.Skipped.WithLabels("camera", SkipReason.Backlog).Value;
        while (Accounted() < Readings && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.Equal(Readings, Accounted());
        await agent.WaitForPredictionsAsync("camera", (int)agent.Metrics.Published.WithLabels("camera").Value);
        var ids = agent.Predictions["camera"].Select(p => p.GetProperty("id").GetString()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Theory]
    [InlineData("Inference:PredictionQueueCapacity", "0")]
    [InlineData("Inference:PredictionQueueCapacity", "many")]
    [InlineData("Inference:IntraOpThreads", "-1")]
    [InlineData("Streams:camera:Inference", "yes please")]
    [InlineData("Streams:camera:RetrainLocally", "true")]
    [InlineData("Inference:LocalTrainingHoldoutFraction", "0.9")]
    [InlineData("Inference:LocalTrainingInterval", "00:00:00")]
    [InlineData("Inference:LocalTrainingMinSamples", "1")]
    public async Task InvalidInferenceConfiguration_FailsAtStart_NamingTheKey(string key, string value)
    {
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => StartAsync((key, value)));

        // The agent prints this message before exiting 78 (a value out of range comes from our
        // validation, one of the wrong type from the configuration binder): key and value.
        Assert.True(ex is ConfigurationValueException || ex.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal), ex.ToString());
        Assert.Contains(key, ex.Message, StringComparison.Ordinal);
        Assert.Contains(value, ex.Message, StringComparison.Ordinal);
    }
}
