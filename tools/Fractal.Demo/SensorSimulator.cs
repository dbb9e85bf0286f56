using System.Globalization;
using System.Text;
using Fractal.Agent.Sync.Ingest;
using Fractal.Learning.Data;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Fractal.Demo;

/// <summary>
/// Two kinds of sensors over MQTT QoS 1: a thermometer publishing JSON readings, and a camera
/// publishing labeled 28x28 grey images (Fashion-MNIST when Debian's dataset-fashion-mnist is
/// installed, otherwise generated patterns) as binary tensors.
/// </summary>
internal sealed class SensorSimulator(int port)
{
    private long _published;
    private long _acknowledged;

    public long Published => Interlocked.Read(ref _published);

    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    public string CameraSource { get; private set; } = "generated patterns";

    public async Task RunAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithProtocolVersion(MqttProtocolVersion.V500).WithClientId("demo-sensors").Build(), cancellationToken);
        var images = CameraImages();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var i = 0;
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        while (clock.Elapsed < duration && await tick.WaitForNextTickAsync(cancellationToken))
        {
            // 50 temperature readings and 25 camera frames a second.
            var celsius = 21 + (3 * Math.Sin(i / 50.0)) + (Random.Shared.NextDouble() * 0.2);
            await PublishAsync(client, new MqttApplicationMessageBuilder()
                .WithTopic("fractal/sensors/temperature")
                .WithPayload(Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{{\"value\":{celsius:F3},\"id\":\"t{i}\"}}"))), cancellationToken);
            if (i % 2 == 0)
            {
                var index = (i / 2) % images.Count;
                await PublishAsync(client, new MqttApplicationMessageBuilder()
                    .WithTopic("fractal/sensors/camera")
                    .WithContentType(IngestMessage.TensorContentType)
                    .WithUserProperty("shape", Utf8("28x28"))
                    .WithUserProperty("dtype", Utf8("u8"))
                    .WithUserProperty("label", Utf8(images.GetLabel(index).ToString(CultureInfo.InvariantCulture)))
                    .WithUserProperty("id", Utf8($"c{i}"))
                    .WithPayload(images.GetImage(index).ToArray()), cancellationToken);
            }

            i++;
        }

        await client.DisconnectAsync(cancellationToken: CancellationToken.None);
    }

    private async Task PublishAsync(IMqttClient client, MqttApplicationMessageBuilder message, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _published);
        var result = await client.PublishAsync(message.WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), cancellationToken);
        if (result.IsSuccess)
        {
            Interlocked.Increment(ref _acknowledged);
        }
    }

    private static ReadOnlyMemory<byte> Utf8(string value) => Encoding.UTF8.GetBytes(value);

    /// <summary>What the camera shows: Fashion-MNIST test images, or generated patterns without the dataset.</summary>
    public LabeledImageSet CameraImages()
    {
        if (FashionMnist.IsAvailable())
        {
            CameraSource = "Fashion-MNIST test images";
            return FashionMnist.Load(DatasetSplit.Test).Take(2000);
        }

        return GeneratedPatterns(offset: 0);
    }

    /// <summary>Images the camera never shows, to train the demo's model on.</summary>
    public static LabeledImageSet TrainingImages(int count) =>
        FashionMnist.IsAvailable() ? FashionMnist.Load(DatasetSplit.Train).Take(count) : GeneratedPatterns(offset: 3);

    /// <summary>100 labeled patterns: a diagonal gradient whose phase depends on the label (plus <paramref name="offset"/>).</summary>
    private static LabeledImageSet GeneratedPatterns(int offset)
    {
        var pixels = new byte[100 * 28 * 28];
        var labels = new byte[100];
        for (var n = 0; n < 100; n++)
        {
            labels[n] = (byte)(n % 10);
            for (var p = 0; p < 28 * 28; p++)
            {
                pixels[(n * 784) + p] = (byte)(((p % 28) + (p / 28) + (n * 7) + offset) % 256);
            }
        }

        return new LabeledImageSet(pixels, labels, 28, 28, 10);
    }
}
