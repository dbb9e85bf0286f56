using Fractal.SystemTests.Harness;
using Fractal.Testing;
using Xunit.Abstractions;

namespace Fractal.SystemTests;

/// <summary>
/// Issue 2's durability proof: the agent is killed with SIGKILL at random moments while QoS 1
/// sensors stream 100,000 messages; every message a sensor saw acknowledged ends up in the hub's
/// data lake exactly once.
/// </summary>
public sealed class KillNineTests(ITestOutputHelper output) : IDisposable
{
    private const int Messages = 100_000;
    private const int Publishers = 32;
    private const int Kills = 6;
    private const int Seed = 4242;
    private readonly TestDirectory _dir = new("kill9");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AgentKilledRandomly_WhileStreaming_EveryAcknowledgedMessageIsInTheLakeExactlyOnce()
    {
        await using var hub = new HubProcess(_dir.Combine("lake"));
        await hub.StartAsync();
        await using var agent = new AgentProcess(_dir.Combine("agent"),
        [
            $"--Uplinks:Hub:Address={hub.GrpcAddress}",
            "--Streams:seq:Priority=1",
            "--Uplinks:Hub:RetryMaxDelay=00:00:01",
            "--Uplinks:Hub:BreakDuration=00:00:01",
        ]);
        await agent.StartAsync();

        using var publishing = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        var publishers = Enumerable.Range(0, Publishers).Select(p => new ResilientPublisher("127.0.0.1", () => agent.MqttPort, $"sensor{p}")).ToList();
        var streaming = Task.WhenAll(publishers.Select((p, k) =>
            Task.Run(() => p.PublishAsync("seq", Enumerable.Range(0, Messages).Where(i => i % Publishers == k), publishing.Token))));

        // Chaos: SIGKILL at random points of the stream (fixed seed), restart at once. Kills are
        // tied to progress, not to the clock, so a slow machine still gets every kill in.
        var random = new Random(Seed);
        var killPoints = Enumerable.Range(0, Kills).Select(_ => random.Next(Messages / 20, Messages * 19 / 20)).Order().ToList();
        var kills = 0;
        foreach (var point in killPoints)
        {
            while (!streaming.IsCompleted && publishers.Sum(p => p.Acknowledged.Count) < point)
            {
                await Task.WhenAny(streaming, Task.Delay(TimeSpan.FromMilliseconds(random.Next(20, 200))));
            }

            if (streaming.IsCompleted)
            {
                break;
            }

            await agent.KillHardAsync();
            kills++;
            await agent.StartAsync();
        }

        await streaming;
        await agent.WaitUntilDrainedAsync(TimeSpan.FromMinutes(3));

        var acknowledged = publishers.SelectMany(p => p.Acknowledged).ToHashSet();
        var inLake = new Dictionary<int, int>();
        await foreach (var record in hub.OpenLake().ReadRecordsAsync("seq", null, CancellationToken.None))
        {
            var index = (int)record.Values[0];
            inLake[index] = inLake.GetValueOrDefault(index) + 1;
        }

        output.WriteLine($"{kills} kills, {publishers.Sum(p => p.Resends)} resends, {acknowledged.Count} acknowledged, {inLake.Count} distinct in lake, {inLake.Values.Sum()} rows");
        Assert.Equal(Kills, kills);
        Assert.Equal(Messages, acknowledged.Count);
        Assert.DoesNotContain(acknowledged, i => !inLake.ContainsKey(i));
        Assert.DoesNotContain(inLake, kv => kv.Value != 1);
    }
}
