using System.Globalization;
using Fractal.Learning.Onnx;
using Fractal.Learning.Specs;
using Fractal.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace Fractal.Packaging.Tests;

public sealed partial class LifecycleTests
{
    /// <summary>
    /// The installed (Native AOT) build retrains its model on a stream's labeled readings: the
    /// training-step graph and the scoring run on ONNX Runtime inside the AOT executable, and the
    /// better model is staged as the active version with the old one as previous.
    /// </summary>
    [Fact]
    [Step(4)]
    public async Task InstalledAgent_RetrainLocally_StagesABetterModelOnTheNode()
    {
        packages.EnsureReady();
        using var dir = new TestDirectory("local-retraining");
        var state = dir.Combine("state");
        const string SpecJson = """{"schemaVersion":1,"name":"pkg-dense","input":{"shape":[4]},"layers":[{"type":"dense","units":3}],"head":"softmax"}""";
        var spec = ModelSpec.Parse(SpecJson);

        // A model that answers class 0 whatever it sees: a third right on three balanced classes.
        var parameters = ModelParameters.Zeros(spec);
        parameters["layers.0.bias"].Data[0] = 5f;
        var models = dir.Combine("state", "models");
        Directory.CreateDirectory(Path.Combine(models, "pkg-v1"));
        await File.WriteAllBytesAsync(Path.Combine(models, "pkg-v1", "model.onnx"), InferenceModelBuilder.Build(spec, parameters));
        await File.WriteAllTextAsync(Path.Combine(models, "pkg-v1", "spec.json"), SpecJson);
        await File.WriteAllTextAsync(Path.Combine(models, "active"), "pkg-v1");
        (await Command.RunAsync("chown", "-R", "fractal:fractal", state)).EnsureSuccess();

        using var notifyDir = new TestDirectory("notify");
        await using var notify = new NotifySocket(notifyDir.Combine("notify.sock"));
        await using var agent = InstalledAgent.Start(notify.Path, Watchdog, FreePort.Next(), FreePort.Next(), new Dictionary<string, string>
        {
            ["Agent:StateDirectory"] = state,
            ["Streams:camera:Upload"] = "None",
            ["Streams:camera:TrainingReservoir"] = "400",
            ["Streams:camera:RetrainLocally"] = "true",
            ["Inference:LocalTrainingInterval"] = "00:00:01",
            ["Inference:LocalTrainingMinSamples"] = "150",
            ["Inference:LocalTrainingEpochs"] = "20",

            // Only the first retraining (a third right to nearly all) can gain this much, so the
            // kept count stops at 1 and the wait below cannot miss it.
            ["Inference:LocalTrainingMinAccuracyGain"] = "0.5",
        });
        await notify.WaitForAsync("READY=1", ReadyTimeout);

        // Labeled JSON readings: the class is the index of the largest of the first three values.
        var random = new Random(12);
        using (var sensor = new MqttClientFactory().CreateMqttClient())
        {
            await sensor.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", agent.MqttPort).WithClientId(Unique.Name("camera")).Build());
            for (var i = 0; i < 200; i++)
            {
                var label = random.Next(3);
                var values = string.Join(',', Enumerable.Range(0, 4).Select(j => (random.NextDouble() + (j == label ? 2 : 0)).ToString("R", CultureInfo.InvariantCulture)));
                var result = await sensor.PublishAsync(new MqttApplicationMessageBuilder()
                    .WithTopic("fractal/sensors/camera")
                    .WithPayload($$"""{"values":[{{values}}],"label":{{label}}}""")
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                    .Build());
                Assert.True(result.IsSuccess, result.ReasonString);
            }
        }

        const string Kept = "fractal_local_trainings_total{stream=\"camera\",outcome=\"kept\"}";
        var kept = await agent.WaitForMetricAsync(Kept, 1, TimeSpan.FromSeconds(60));

        try
        {
            var active = (await File.ReadAllTextAsync(Path.Combine(models, "active"))).Trim();
            Assert.StartsWith("pkg-v1-local-", active, StringComparison.Ordinal);
            Assert.Equal("pkg-v1", (await File.ReadAllTextAsync(Path.Combine(models, "previous"))).Trim());
            Assert.True(File.Exists(Path.Combine(models, active, "model.onnx")));
            Assert.True(kept >= 1);
            Assert.InRange(await agent.MetricAsync("fractal_local_training_holdout_accuracy{stream=\"camera\",model=\"retrained\"}") ?? 0, 0.9, 1.0);
        }
        catch (Exception ex) when (ex is Xunit.Sdk.XunitException or IOException)
        {
            throw new Xunit.Sdk.XunitException($"{ex.Message}\nagent's metrics:\n{await agent.MetricsTextAsync()}\nagent's log:\n{agent.StandardOutput}{agent.StandardError}");
        }

        Assert.Equal(0, await agent.TerminateAsync(TimeSpan.FromSeconds(30)));
    }
}
