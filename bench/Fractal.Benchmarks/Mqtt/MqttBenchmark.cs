using System.Diagnostics;
using Fractal.Agent.Sync.Mqtt;
using Fractal.Benchmarks.Mqtt;
using Fractal.Testing.Mosquitto;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Fractal.Benchmarks;

/// <summary>
/// End-to-end MQTT QoS 1 → committed through mosquitto (the agent subscribed with
/// BrokerMqttIngest) against mosquitto delivering the same QoS 1 stream to a subscriber that does
/// nothing (the broker limit). Same broker, same publishers, same payloads, same run.
/// </summary>
internal static class MqttBenchmark
{
    public const string MeasuredTopic = "fractal/sensors/" + Readings.Stream;
    private const string WarmUpTopic = "fractal/sensors/warmup";
    private const int WarmUpMessages = 1000;
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(5);

    public static async Task RunAsync(BenchArgs args)
    {
        // At 15,000-25,000 messages/s, 10,000 messages lasted under a second, and start-up
        // (connections, the first groups, an empty buffer file) moved ratios by up to 0.2.
        var messages = args.Int("messages", 100_000);
        var values = args.Int("values", 16);
        var rounds = args.Int("rounds", 3);
        var publisherCounts = args.Ints("publishers", "1,4");
        var inflights = args.Ints("inflight", "10,100");
        var receiveMaximum = args.Int("receivemax", 1000);
        var backlog = args.Int("backlog", 2 * receiveMaximum);
        var root = args.String("dir", Path.Combine(Path.GetTempPath(), "fractal-bench"));
        var warmUpRounds = args.Int("warmup", 1);
        // The plain subscriber's kernel socket buffers: by default the agent's own default
        // (Mqtt:SocketBufferBytes), so that the baseline is not held back by MQTTnet's 8 KiB.
        var plainSocketBuffer = args.Int("plain-socket-buffer", new MqttIngestOptions().SocketBufferBytes);
        // The packaged agent (its own process) instead of the agent's data path in this process.
        var packagedAgent = args.String("agent", string.Empty);
        // Agent configuration for both kinds of agent, e.g. --settings Buffer:GroupCommitDelay=00:00:00.
        var settings = args.Strings("settings", string.Empty)
            .Select(pair => pair.Split('=', 2))
            .ToDictionary(kv => kv[0], kv => kv.Length == 2 ? kv[1] : throw new ArgumentException($"--settings wants Key=Value pairs, got '{kv[0]}'."));
        // The packaged agent at another scheduling niceness than the broker and the publishers
        // (--agent-nice 10: they run first when the cores are short). 0, as the systemd unit runs it.
        var agent = new AgentUnderTest(packagedAgent, settings, args.Int("agent-nice", 0));
        if (agent.IsPackaged && !File.Exists(packagedAgent))
        {
            throw new FileNotFoundException($"No agent at {packagedAgent}; publish it first (see docs/benchmarks.md).", packagedAgent);
        }

        await using var broker = await MosquittoBroker.StartAsync(maxInflight: receiveMaximum);
        foreach (var ids in args.Strings("ids", "true,false").Select(v => v == "true"))
        {
            await RunSeriesAsync(broker, messages, values, rounds, warmUpRounds, publisherCounts, inflights, receiveMaximum, plainSocketBuffer, backlog, root, ids, agent);
        }
    }

    private static async Task RunSeriesAsync(MosquittoBroker broker, int messages, int values, int rounds, int warmUpRounds, int[] publisherCounts, int[] inflights, int receiveMaximum, int plainSocketBuffer, int backlog, string root, bool ids, AgentUnderTest agent)
    {
        var payloads = Enumerable.Range(0, messages).Select(i => Readings.Json(i, values, ids ? "sensor-1/" : null)).ToArray();
        Report.Line($"{messages:N0} QoS 1 messages per measurement, JSON readings of {values} values {(ids ? "with" : "without")} a sensor id ({payloads.Average(p => p.Length):N0} B average); " +
            $"mosquitto {MosquittoVersion()} (max_inflight_messages {receiveMaximum}, persistence off, set_tcp_nodelay true) on loopback; subscriber Receive Maximum {receiveMaximum}, plain subscriber's socket buffers {plainSocketBuffer:N0} B; " +
            $"publishers keep at most {backlog:N0} readings published but not yet received or committed (so that what is measured is sustained delivery, not how fast a backlog piles up at the broker); " +
            $"agent: {(agent.IsPackaged ? $"the process {Path.GetFileName(agent.Executable)} at niceness {agent.Niceness} (commits read from its metrics every 50 ms, every 5 ms for the last 1,500)" : "its data path in this process")}" +
            $"{(agent.Settings.Count == 0 ? string.Empty : " with " + string.Join(", ", agent.Settings.Select(kv => $"{kv.Key}={kv.Value}")))}; " +
            $"{rounds} rounds, baseline and agent alternating, after {warmUpRounds} unmeasured round(s) of each at the first shape. Time = first PUBLISH until the last reading is received (baseline) or committed (agent).");
        Report.Line(string.Empty);

        // The packaged agent is compiled ahead of time; in this process both sides are JIT-compiled,
        // and tiering up the agent's larger code path took 14 % of the CPU during a first agent
        // run (perf, 100,000 messages). Unmeasured rounds first, so both are measured warm.
        for (var round = 0; round < warmUpRounds; round++)
        {
            foreach (var agentTurn in new[] { false, true })
            {
                var m = await MeasureOnceAsync(broker, agentTurn, agent, payloads, publisherCounts[0], inflights[0], receiveMaximum, plainSocketBuffer, backlog, root);
                Report.Progress($"mqtt warm-up {round + 1}, {(agentTurn ? "agent" : "plain")}: {m.Rate:N0}/s (not counted) {m.Diagnostics}");
            }
        }

        var rows = new List<IReadOnlyList<string>>();
        foreach (var publishers in publisherCounts)
        {
            foreach (var inflight in inflights)
            {
                var plain = new List<Measurement>();
                var agentRuns = new List<Measurement>();
                for (var round = 0; round < rounds; round++)
                {
                    // Alternate which goes first, so neither always meets a cold or a tired broker.
                    for (var k = 0; k < 2; k++)
                    {
                        var agentTurn = (k + round) % 2 == 1;
                        var m = await MeasureOnceAsync(broker, agentTurn, agent, payloads, publishers, inflight, receiveMaximum, plainSocketBuffer, backlog, root);
                        (agentTurn ? agentRuns : plain).Add(m);
                        Report.Progress($"mqtt {publishers} pub x {inflight} in flight, round {round + 1}, {(agentTurn ? "agent" : "plain")}: {m.Rate:N0}/s (publishers done at {m.PublishRate:N0}/s){(m.Complete ? string.Empty : " INCOMPLETE")} {m.Diagnostics}");
                    }
                }

                var ratios = agentRuns.Select((a, i) => a.Rate / plain[i].Rate).ToList();
                rows.Add([
                    $"{publishers} x {inflight}",
                    Report.Rate(Report.Median(plain.Select(m => m.Rate))),
                    Report.Rate(Report.Median(agentRuns.Select(m => m.Rate))),
                    Report.Ratio(Report.Median(ratios)),
                    string.Join(", ", ratios.Select(Report.Ratio)),
                    $"{Report.Median(plain.Select(m => m.BrokerCpuPerMessage)):N1} / {Report.Median(agentRuns.Select(m => m.BrokerCpuPerMessage)):N1}",
                    agentRuns.All(m => m.Complete) && plain.All(m => m.Complete) ? "all" : "NO (timeout)",
                ]);
            }
        }

        Report.Table(["publishers x in flight each", "broker limit: plain subscriber msg/s (median)", "agent: QoS 1 → committed msg/s (median)", "ratio (median)", "per-round ratios", "mosquitto CPU µs per message, plain / agent (medians)", "all delivered"], rows);
    }

    private static async Task<Measurement> MeasureOnceAsync(MosquittoBroker broker, bool agentTurn, AgentUnderTest agent, byte[][] payloads, int publishers, int inflight, int receiveMaximum, int plainSocketBuffer, int backlog, string root)
    {
        var dir = Path.Combine(root, $"mqtt-{Guid.NewGuid():N}");
        try
        {
            Sink sink = (agentTurn, agent.IsPackaged) switch
            {
                (false, _) => await PlainSubscriber.StartAsync(broker.Host, broker.Port, receiveMaximum, plainSocketBuffer),
                (true, false) => await AgentSubscriber.StartAsync(broker.Host, broker.Port, receiveMaximum, dir, agent.Settings),
                (true, true) => await PackagedAgentSubscriber.StartAsync(agent.Executable, agent.Niceness, broker.Host, broker.Port, receiveMaximum, dir, agent.Settings),
            };
            return await MeasureAsync(broker, sink, payloads, publishers, inflight, backlog);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    private static async Task<Measurement> MeasureAsync(MosquittoBroker broker, Sink sink, byte[][] payloads, int publisherCount, int inflight, int backlog)
    {
        var publishers = new List<IMqttClient>();
        try
        {
            for (var p = 0; p < publisherCount; p++)
            {
                publishers.Add(await ConnectPublisherAsync(broker));
            }

            await WarmUpAsync(sink, publishers[0]);
            // The same end-to-end window for both sinks: a permit per reading on its way.
            using var window = new SemaphoreSlim(backlog, int.MaxValue);
            sink.Measured.Arm(payloads.Length, window);
            sink.MarkStart();
            using var self = Process.GetCurrentProcess();
            var cpuBefore = self.TotalProcessorTime;
            var brokerCpuBefore = broker.ProcessorTime;
            var jitBefore = System.Runtime.JitInfo.GetCompilationTime();
            var clock = Stopwatch.StartNew();
            var publishing = Task.WhenAll(Enumerable.Range(0, publisherCount * inflight).Select(worker => Task.Run(async () =>
            {
                // Worker w of publisher w % P sends every (P * inflight)-th message: each
                // publisher keeps `inflight` QoS 1 PUBLISHes outstanding.
                var client = publishers[worker % publisherCount];
                for (var i = worker; i < payloads.Length; i += publisherCount * inflight)
                {
                    await window.WaitAsync();
                    await PublishAsync(client, MeasuredTopic, payloads[i]);
                }
            })));
            await publishing;
            var published = clock.Elapsed;
            var complete = await Task.WhenAny(sink.Measured.Done, Task.Delay(Patience)) == sink.Measured.Done;
            clock.Stop();
            self.Refresh();
            // Publishers and subscriber share this process: the subscriber's extra CPU shows as the
            // difference between the agent's and the plain subscriber's figure.
            var cpuPerMessage = (self.TotalProcessorTime - cpuBefore).TotalMicroseconds / payloads.Length;
            // The broker's share of the two cores: if one sink made mosquitto work harder per
            // message (how it acknowledges, in bursts or one by one), it shows here.
            var brokerCpuPerMessage = (broker.ProcessorTime - brokerCpuBefore).TotalMicroseconds / payloads.Length;
            var jit = System.Runtime.JitInfo.GetCompilationTime() - jitBefore;
            return new Measurement(sink.Measured.Count / clock.Elapsed.TotalSeconds, payloads.Length / published.TotalSeconds, complete, brokerCpuPerMessage, $"{cpuPerMessage:N1} µs CPU per message in this process (JIT {jit.TotalMilliseconds:N0} ms), mosquitto {brokerCpuPerMessage:N1} µs; longest pause {sink.Measured.LongestGap.TotalMilliseconds:N0} ms; {sink.Diagnostics}");
        }
        finally
        {
            foreach (var publisher in publishers)
            {
                await publisher.DisconnectAsync();
                publisher.Dispose();
            }

            var clientId = sink.ClientId;
            await sink.DisposeAsync();
            await ForgetSessionAsync(broker, clientId);
        }
    }

    private static async Task WarmUpAsync(Sink sink, IMqttClient publisher)
    {
        // Until the subscription is in place the broker drops messages; the warm-up stream is
        // counted apart, so late warm-up messages never count as measured ones.
        var warmUp = Readings.Json(0, 4, null);
        using var deadline = new CancellationTokenSource(Patience);
        while (sink.WarmUp.Count == 0)
        {
            await PublishAsync(publisher, WarmUpTopic, warmUp);
            await Task.Delay(50, deadline.Token);
        }

        await Task.WhenAll(Enumerable.Range(0, 50).Select(w => Task.Run(async () =>
        {
            for (var i = w; i < WarmUpMessages; i += 50)
            {
                await PublishAsync(publisher, WarmUpTopic, warmUp);
            }
        })));
        while (sink.WarmUp.Count < WarmUpMessages)
        {
            await Task.Delay(20, deadline.Token);
        }
    }

    private static async Task PublishAsync(IMqttClient client, string topic, byte[] payload)
    {
        var result = await client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());
        if (!result.IsSuccess)
        {
            throw new InvalidOperationException($"PUBLISH refused: {result.ReasonCode} {result.ReasonString}");
        }
    }

    private static async Task<IMqttClient> ConnectPublisherAsync(MosquittoBroker broker)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer(broker.Host, broker.Port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId($"bench-pub-{Guid.NewGuid():N}")
            .Build());
        return client;
    }

    /// <summary>Removes a persistent session, so the broker stops queueing for a subscriber that is gone.</summary>
    private static async Task ForgetSessionAsync(MosquittoBroker broker, string clientId)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer(broker.Host, broker.Port)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId(clientId)
            .WithCleanStart(true)
            .WithSessionExpiryInterval(0)
            .Build());
        await client.DisconnectAsync();
    }

    private static string MosquittoVersion()
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("mosquitto", "-h") { RedirectStandardOutput = true, UseShellExecute = false })!;
            var first = process.StandardOutput.ReadLine() ?? string.Empty;
            process.WaitForExit();
            return first.Replace("mosquitto version ", string.Empty, StringComparison.Ordinal).Trim();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "?";
        }
    }

    /// <summary>Which agent is measured: in this process, or the published executable; with what settings.</summary>
    private sealed record AgentUnderTest(string Executable, IReadOnlyDictionary<string, string> Settings, int Niceness)
    {
        public bool IsPackaged => Executable.Length > 0;
    }

    private readonly record struct Measurement(double Rate, double PublishRate, bool Complete, double BrokerCpuPerMessage, string Diagnostics);
}
