using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Fractal.Learning.Onnx;
using Fractal.Learning.Specs;
using Fractal.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace Fractal.Packaging.Tests;

public sealed partial class LifecycleTests
{
    private const int InferenceReadings = 50;

    /// <summary>
    /// The installed (Native AOT) build with a staged model: it loads the model at start (ONNX
    /// Runtime's native library beside the executable, its C API through the AOT-compiled
    /// binding) and publishes a prediction for each reading of an inference stream. The expected
    /// answers are computed here from the model's weights, independently of ONNX Runtime.
    /// </summary>
    [Fact]
    [Step(4)]
    public async Task InstalledAgent_StagedModel_PublishesAPredictionPerReading()
    {
        packages.EnsureReady();
        using var dir = new TestDirectory("inference");
        var state = dir.Combine("state");
        const string SpecJson = """{"schemaVersion":1,"name":"pkg-dense","input":{"shape":[4]},"layers":[{"type":"dense","units":3}],"head":"softmax"}""";
        var spec = ModelSpec.Parse(SpecJson);
        var parameters = ModelParameters.Initialize(spec, seed: 21);

        // The staged layout the deployer writes: models/{version}/model.onnx and spec.json, and the
        // "active" pointer naming the version to serve.
        var version = dir.Combine("state", "models", "pkg-v1");
        Directory.CreateDirectory(version);
        await File.WriteAllBytesAsync(Path.Combine(version, "model.onnx"), InferenceModelBuilder.Build(spec, parameters));
        await File.WriteAllTextAsync(Path.Combine(version, "spec.json"), SpecJson);
        await File.WriteAllTextAsync(dir.Combine("state", "models", "active"), "pkg-v1");
        (await Command.RunAsync("chown", "-R", "fractal:fractal", state)).EnsureSuccess();

        using var notifyDir = new TestDirectory("notify");
        await using var notify = new NotifySocket(notifyDir.Combine("notify.sock"));
        await using var agent = InstalledAgent.Start(notify.Path, Watchdog, FreePort.Next(), FreePort.Next(), new Dictionary<string, string>
        {
            ["Agent:StateDirectory"] = state,
            ["Streams:camera:Inference"] = "true",
        });
        await notify.WaitForAsync("READY=1", ReadyTimeout);

        var predictions = new ConcurrentDictionary<string, JsonElement>();
        using var consumer = new MqttClientFactory().CreateMqttClient();
        consumer.ApplicationMessageReceivedAsync += e =>
        {
            using var json = JsonDocument.Parse(e.ApplicationMessage.Payload);
            predictions[json.RootElement.GetProperty("id").GetString()!] = json.RootElement.Clone();
            return Task.CompletedTask;
        };
        await consumer.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", agent.MqttPort).WithClientId(Unique.Name("consumer")).Build());
        await consumer.SubscribeAsync("fractal/predictions/camera", MqttQualityOfServiceLevel.AtMostOnce);

        var random = new Random(8);
        var samples = Enumerable.Range(0, InferenceReadings).Select(_ => Enumerable.Range(0, 4).Select(_ => (float)((random.NextDouble() * 6) - 3)).ToArray()).ToArray();
        using (var sensor = new MqttClientFactory().CreateMqttClient())
        {
            await sensor.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", agent.MqttPort).WithClientId(Unique.Name("camera")).Build());
            for (var i = 0; i < samples.Length; i++)
            {
                var values = string.Join(',', samples[i].Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
                var result = await sensor.PublishAsync(new MqttApplicationMessageBuilder()
                    .WithTopic("fractal/sensors/camera")
                    .WithPayload($$"""{"values":[{{values}}],"id":"p{{i}}"}""")
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                    .Build());
                Assert.True(result.IsSuccess, result.ReasonString);
            }
        }

        try
        {
            Assert.Equal(InferenceReadings, await agent.WaitForMetricAsync("fractal_predictions_total{stream=\"camera\"}", InferenceReadings, TimeSpan.FromSeconds(30)));
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (predictions.Count < InferenceReadings && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }

            var weight = parameters["layers.0.weight"].Data; // [units, inputs], row-major
            var bias = parameters["layers.0.bias"].Data;
            var distinctLabels = new HashSet<int>();
            for (var i = 0; i < samples.Length; i++)
            {
                var logits = Enumerable.Range(0, 3).Select(j => bias[j] + Enumerable.Range(0, 4).Sum(k => weight[(j * 4) + k] * samples[i][k])).ToArray();
                var expected = Array.IndexOf(logits, logits.Max());
                var prediction = predictions[$"p{i}"];
                Assert.Equal("pkg-v1", prediction.GetProperty("model").GetString());
                Assert.Equal(expected, prediction.GetProperty("label").GetInt32());
                distinctLabels.Add(expected);
            }

            // The inputs span more than one answer, so a constant output could not pass.
            Assert.True(distinctLabels.Count > 1, "all samples fall in one class; pick another seed");
        }
        catch (Exception ex) when (ex is Xunit.Sdk.XunitException or TimeoutException or KeyNotFoundException)
        {
            throw new Xunit.Sdk.XunitException($"{ex.Message}\nagent's metrics:\n{await agent.MetricsTextAsync()}\nagent's log:\n{agent.StandardOutput}{agent.StandardError}");
        }

        Assert.Equal(0, await agent.TerminateAsync(TimeSpan.FromSeconds(30)));
    }
}
