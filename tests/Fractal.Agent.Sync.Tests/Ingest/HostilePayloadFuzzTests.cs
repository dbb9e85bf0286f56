using System.Text;
using Fractal.Agent.Sync.Buffer;
using Fractal.Agent.Sync.Ingest;
using Fractal.Agent.Sync.Metrics;
using Fractal.Agent.Sync.Tests.Buffer;
using Fractal.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fractal.Agent.Sync.Tests.Ingest;

/// <summary>
/// Thousands of random and hostile messages (fixed seed) through the real pipeline and buffer:
/// each is either accepted as a valid reading or dead-lettered with a reason, the daemon keeps
/// running, and valid readings interleaved with the junk all arrive.
/// </summary>
public sealed class HostilePayloadFuzzTests : IDisposable
{
    private const int Seed = 20261128;
    private readonly TestDirectory _dir = new("fuzz");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task SubmitAsync_ThousandsOfHostileMessages_DeadLettersThemAndLosesNoValidReading()
    {
        var streams = new Dictionary<string, StreamPolicy>
        {
            ["s"] = new StreamPolicy { MaxPayloadBytes = 8192 },
            ["img"] = new StreamPolicy { Shape = [8, 8], MaxPayloadBytes = 8192 },
        };
        var metrics = new SyncMetrics();
        await using var buffer = TestBuffers.Open(_dir.Path, streams, o => o.DeadLetterCapacity = 100_000, metrics: metrics);
        var pipeline = new IngestPipeline(buffer, new StreamCatalog(streams), metrics, NullLogger<IngestPipeline>.Instance);
        var random = new Random(Seed);

        var results = new Dictionary<IngestResult, int>();
        var validSent = 0;
        for (var i = 0; i < 5000; i++)
        {
            IngestMessage message;
            if (i % 10 == 0)
            {
                // A valid reading every tenth message: it must survive the junk around it.
                message = new IngestMessage("fractal/sensors/s", Encoding.UTF8.GetBytes($"{{\"values\":[{validSent}],\"id\":\"v{validSent}\"}}"));
                validSent++;
            }
            else
            {
                message = Hostile(random, i);
            }

            var result = await pipeline.SubmitAsync(message, CancellationToken.None);
            results[result] = results.GetValueOrDefault(result) + 1;
        }

        var stored = buffer.Read("s", 0, 100_000, long.MaxValue);
        var validValues = stored.Where(r => r.Shape is [1]).Select(r => BitConverter.ToSingle(r.Values)).ToHashSet();
        Assert.All(Enumerable.Range(0, validSent), v => Assert.Contains((float)v, validValues));

        var deadLetters = buffer.ReadDeadLetters(100_000);
        Assert.Equal(results.GetValueOrDefault(IngestResult.DeadLettered), deadLetters.Count);
        Assert.True(deadLetters.Count > 3000, $"expected most hostile messages to be dead-lettered, got {deadLetters.Count}");
        Assert.All(deadLetters, d => Assert.False(string.IsNullOrWhiteSpace(d.Reason)));
        Assert.Equal(deadLetters.Count, (int)(metrics.DeadLettered.WithLabels("unknown_stream").Value
            + metrics.DeadLettered.WithLabels("bad_topic").Value + metrics.DeadLettered.WithLabels("oversized").Value
            + metrics.DeadLettered.WithLabels("malformed_json").Value + metrics.DeadLettered.WithLabels("bad_shape").Value
            + metrics.DeadLettered.WithLabels("invalid").Value));

        // Still healthy afterwards.
        Assert.True(buffer.IsWriterAlive);
        Assert.Equal(IngestResult.Accepted, await pipeline.SubmitAsync(new IngestMessage("fractal/sensors/s", "[1]"u8.ToArray()), CancellationToken.None));
    }

    private static IngestMessage Hostile(Random random, int i)
    {
        string[] topics = ["fractal/sensors/s", "fractal/sensors/img", "fractal/sensors/", "fractal/sensors/unknown", "fractal/sensors/s/extra", "fractal/sensors/" + new string('x', 100), "$SYS/x", "fractal/sensors/s\u0000", ""];
        var topic = topics[random.Next(topics.Length)];
        switch (random.Next(8))
        {
            case 0:
                var junk = new byte[random.Next(0, 10_000)];
                random.NextBytes(junk);
                return new IngestMessage(topic, junk);
            case 1:
                return new IngestMessage(topic, Encoding.UTF8.GetBytes(MutatedJson(random)));
            case 2:
                var tensor = new byte[random.Next(0, 400)];
                random.NextBytes(tensor);
                string[] shapes = ["8x8", "8,8", "0", "-1x8", "99999999x99999999", "8x8x", "a", "", "16", "2x2x2x2x2x2x2x2x2"];
                string[] dtypes = ["f32", "u8", "f16", "", "F32"];
                return new IngestMessage(topic, tensor, IngestMessage.TensorContentType, [new("shape", shapes[random.Next(shapes.Length)]), new("dtype", dtypes[random.Next(dtypes.Length)]), new("label", random.Next(3) == 0 ? "x" : "1")]);
            case 3:
                return new IngestMessage(topic, Encoding.UTF8.GetBytes(new string('[', random.Next(1, 5000))));
            case 4:
                return new IngestMessage(topic, Encoding.UTF8.GetBytes("{\"values\":[" + string.Join(',', Enumerable.Range(0, random.Next(1, 3000))) + "]}"));
            case 5:
                return new IngestMessage(topic, Encoding.UTF8.GetBytes($"{{\"values\":[1],\"id\":\"{new string('i', random.Next(0, 300))}\",\"label\":{random.Next(-5, 5)}}}"));
            case 6:
                return new IngestMessage(topic, Array.Empty<byte>());
            default:
                return new IngestMessage(topic, Encoding.UTF8.GetBytes($"{{\"value\":{(random.Next(2) == 0 ? "NaN" : "1e400")}}}"));
        }
    }

    private static string MutatedJson(Random random)
    {
        var json = """{"values":[1.5,2.5,3.5],"shape":[3],"label":2,"id":"abc"}""".ToCharArray();
        var mutations = random.Next(1, 6);
        for (var m = 0; m < mutations; m++)
        {
            const string Alphabet = "{}[],:\"0-e.x\\ ";
            json[random.Next(json.Length)] = Alphabet[random.Next(Alphabet.Length)];
        }

        return new string(json);
    }
}
