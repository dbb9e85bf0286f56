using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Fractal.CloudHub;
using Fractal.CloudHub.Hosting;
using Fractal.Testing;
using Fractal.Testing.Mosquitto;
using Fractal.Testing.Processes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Fractal.Benchmarks;

/// <summary>
/// Resident set size of the real agent process (<c>dotnet fractal-agent.dll</c>, Release, or with
/// <c>--agent PATH</c> to an executable the packaged Native AOT build), idle
/// and while publishers stream readings, read from /proc/&lt;pid&gt;/status. The agent uploads to
/// an in-process hub, so the buffer drains as in production. Runtime settings are varied through
/// DOTNET_* environment variables (the runtimeconfig knobs) to find what the footprint is made of.
/// </summary>
internal static class MemoryBenchmark
{
    private static readonly Dictionary<string, Dictionary<string, string>> Variants = new(StringComparer.Ordinal)
    {
        ["default"] = [],
        // The GC settings the agent shipped with before background GC and the 4 MB gen0 budget.
        ["non-concurrent"] = new() { ["DOTNET_gcConcurrent"] = "0", ["DOTNET_GCgen0size"] = "0" },
        ["gen0-4mb"] = new() { ["DOTNET_GCgen0size"] = "400000" },
        ["gen0max-4mb"] = new() { ["DOTNET_GCgen0MaxBudget"] = "400000" },
        ["gen0max-2mb"] = new() { ["DOTNET_GCgen0MaxBudget"] = "200000" },
        ["conserve-7"] = new() { ["DOTNET_GCConserveMemory"] = "7" },
        ["concurrent"] = new() { ["DOTNET_gcConcurrent"] = "1" },
        ["concurrent+conserve-5"] = new() { ["DOTNET_gcConcurrent"] = "1", ["DOTNET_GCConserveMemory"] = "5" },
        ["concurrent+gen0-1mb"] = new() { ["DOTNET_gcConcurrent"] = "1", ["DOTNET_GCgen0size"] = "100000" },
        ["concurrent+gen0-2mb"] = new() { ["DOTNET_gcConcurrent"] = "1", ["DOTNET_GCgen0size"] = "200000" },
        ["concurrent+gen0-4mb"] = new() { ["DOTNET_gcConcurrent"] = "1", ["DOTNET_GCgen0size"] = "400000" },
        ["concurrent+region-1mb"] = new() { ["DOTNET_gcConcurrent"] = "1", ["DOTNET_GCRegionSize"] = "100000" },
        ["concurrent+gen0-2mb+region-1mb"] = new() { ["DOTNET_gcConcurrent"] = "1", ["DOTNET_GCgen0size"] = "200000", ["DOTNET_GCRegionSize"] = "100000" },
        // GC regions: 4 MB each by default; every generation holds at least one (docs/design/0013).
        ["region-1mb"] = new() { ["DOTNET_GCRegionSize"] = "100000" },
        ["region-2mb"] = new() { ["DOTNET_GCRegionSize"] = "200000" },
        ["region-4mb"] = new() { ["DOTNET_GCRegionSize"] = "400000" },
        ["hardlimit-32mb"] = new() { ["DOTNET_GCHeapHardLimit"] = "2000000" },
        ["tieredpgo-off"] = new() { ["DOTNET_TieredPGO"] = "0" },
        ["tc-off"] = new() { ["DOTNET_TieredCompilation"] = "0" },
        ["gen0-4mb+pgo-off"] = new() { ["DOTNET_GCgen0size"] = "400000", ["DOTNET_TieredPGO"] = "0" },
    };

    public static async Task RunAsync(BenchArgs args)
    {
        var agent = args.String("agent", Path.Combine(RepositoryRoot(), "src/Fractal.Agent/bin/Release/net10.0/fractal-agent.dll"));
        var idleSeconds = args.Int("idle", 10);
        var loadSeconds = args.Int("load", 30);
        var values = args.Int("values", 16);
        var modes = args.Strings("modes", "embedded,broker");
        var rate = args.Int("rate", 0);
        var variants = args.Strings("variants", "default,gen0-4mb,conserve-7,hardlimit-32mb,tieredpgo-off,tc-off");
        if (!File.Exists(agent))
        {
            throw new FileNotFoundException($"Build the agent in Release first (dotnet build src/Fractal.Agent -c Release): {agent}");
        }

        var root = args.String("dir", Path.Combine(Path.GetTempPath(), "fractal-bench"));
        var lake = Path.Combine(root, $"lake-{Guid.NewGuid():N}");
        await using var hub = FractalHubApplication.Build(["--Hub:GrpcUrl=http://127.0.0.1:0", "--Hub:HttpUrl=http://127.0.0.1:0", $"--DataLake:Root={lake}", "--Logging:LogLevel:Default=Warning",
            // Each agent-side transport disposal resets its upload stream; the hub logs that as an error (see docs/benchmarks.md).
            "--Logging:LogLevel:Grpc.AspNetCore.Server.ServerCallHandler=Critical"]);
        await hub.StartAsync();
        var hubAddress = hub.Services.GetRequiredService<HubEndpoints>().GrpcAddress;
        await using var broker = modes.Contains("broker") ? await MosquittoBroker.StartAsync() : null;
        var payloads = Enumerable.Range(0, 10_000).Select(i => Readings.Json(i, values, "sensor/")).ToArray();

        var agentForm = agent.EndsWith(".dll", StringComparison.Ordinal)
            ? $"`dotnet {Path.GetRelativePath(RepositoryRoot(), agent)}` (framework-dependent JIT build; GC settings from src/Fractal.Agent/Fractal.Agent.csproj)"
            : $"`{agent}` (a native executable: the Native AOT publish, GC settings compiled in from the csproj and linux.publish.props)";
        Report.Line($"Agent: {agentForm}; \"default\" adds no DOTNET_* variables. Hub uplink to an in-process hub. " +
            $"Idle: {idleSeconds} s after start-up; load: {loadSeconds} s of QoS 1 JSON readings ({values} values + id), {(rate > 0 ? $"paced at {rate:N0} msg/s in total" : "publishers as fast as acknowledgements allow")}. " +
            "embedded = the agent's own MQTT server, 16 sensor connections (it commits one message per connection at a time); broker = mosquitto, agent subscribed, 1 publisher x 100 in flight. VmRSS from /proc/<pid>/status every 0.5 s.");
        Report.Line(string.Empty);

        var rows = new List<IReadOnlyList<string>>();
        foreach (var mode in modes)
        {
            foreach (var variant in variants)
            {
                var r = await MeasureAsync(agent, mode, Variants[variant], hubAddress, broker, payloads, idleSeconds, loadSeconds, rate, root);
                Report.Progress($"memory {mode} {variant}: idle {r.IdleKb / 1024.0:N1} MB, load max {r.LoadMaxKb / 1024.0:N1} MB, {r.Rate:N0} msg/s {r.Failure}");
                if (r.Failure is not null)
                {
                    rows.Add([mode, VariantText(variant), "-", "-", "-", "-", "-", r.Failure]);
                    continue;
                }

                rows.Add([
                    mode,
                    VariantText(variant),
                    Mb(r.IdleKb),
                    Mb(r.LoadMeanKb),
                    Mb(r.LoadMaxKb),
                    $"{Mb(r.PeakAnonKb)} / {Mb(r.PeakFileKb)}",
                    Report.Rate(r.Rate),
                    r.LoadMaxKb < 60 * 1024 ? "yes" : "no",
                ]);
            }
        }

        Report.Table(["ingest", "runtime settings", "idle VmRSS MB", "load VmRSS MB (mean)", "load VmRSS MB (max)", "at max: RssAnon / RssFile MB", "msg/s acknowledged to the publishers (broker: by mosquitto; embedded: by the agent after commit)", "< 60 MB"], rows);
    }

    private static string VariantText(string variant)
        => $"{variant}{(Variants[variant].Count == 0 ? string.Empty : " (" + string.Join(", ", Variants[variant].Select(kv => $"{kv.Key}={kv.Value}")) + ")")}";

    private static string Mb(long kb) => (kb / 1024.0).ToString("N1", CultureInfo.InvariantCulture);

    private static async Task<Result> MeasureAsync(string agent, string mode, Dictionary<string, string> environment, Uri hubAddress, MosquittoBroker? broker,
        byte[][] payloads, int idleSeconds, int loadSeconds, int rate, string root)
    {
        var dir = Path.Combine(root, $"memory-{Guid.NewGuid():N}");
        var port = mode == "broker" ? broker!.Port : FreePort.Next();
        string[] arguments =
        [
            $"--Agent:StateDirectory={dir}",
            "--Agent:NodeId=bench-memory",
            $"--Uplinks:Hub:Address={hubAddress}",
            "--Metrics:Port=0",
            $"--Streams:{Readings.Stream}:Priority=0",
            "--Logging:LogLevel:Default=Warning",
            .. mode == "broker"
                ? new[] { $"--Mqtt:BrokerHost={broker!.Host}", $"--Mqtt:BrokerPort={port.ToString(CultureInfo.InvariantCulture)}", $"--Mqtt:ClientId=bench-memory-{Guid.NewGuid():N}" }
                : [$"--Mqtt:EmbeddedPort={port.ToString(CultureInfo.InvariantCulture)}"],
        ];
        var process = PublishedAgent.Start(agent, arguments, environment);
        try
        {
            if (mode == "embedded")
            {
                await WaitForPortAsync(port, process);
            }

            // Idle: started, connected, nothing to do.
            var idle = await SampleAsync(process.Id, TimeSpan.FromSeconds(idleSeconds), CancellationToken.None);

            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(loadSeconds));
            var sampling = SampleAsync(process.Id, TimeSpan.FromSeconds(loadSeconds), CancellationToken.None);
            var published = await PublishUntilAsync(mode, "127.0.0.1", port, payloads, rate, stop.Token);
            var load = await sampling;
            return new Result(idle.LastKb, load.MeanKb, load.MaxKb, load.PeakAnonKb, load.PeakFileKb, published / (double)loadSeconds, null);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or MQTTnet.Exceptions.MqttCommunicationException)
        {
            // The agent died (for example out of memory under a heap hard limit) or stopped: a result too.
            try
            {
                await process.WaitForExitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
            }

            return new Result(0, 0, 0, 0, 0, 0, process.HasExited ? $"agent exited with code {process.ExitCode} ({ex.GetType().Name})" : $"load failed: {ex.GetType().Name}: {ex.Message}");
        }
        finally
        {
            await process.DisposeAsync();
            PublishedAgent.EchoOutput(process);
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<long> PublishUntilAsync(string mode, string host, int port, byte[][] payloads, int rate, CancellationToken stop)
    {
        var (publishers, inflight) = mode == "broker" ? (1, 100) : (16, 1);
        var clients = new List<IMqttClient>();
        for (var p = 0; p < publishers; p++)
        {
            var client = new MqttClientFactory().CreateMqttClient();
            await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(host, port).WithProtocolVersion(MqttProtocolVersion.V500).WithClientId($"bench-sensor-{Guid.NewGuid():N}").Build(), CancellationToken.None);
            clients.Add(client);
        }

        long acknowledged = 0;
        long issued = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, publishers * inflight).Select(worker => Task.Run(async () =>
        {
            var client = clients[worker % publishers];
            for (var i = worker; !stop.IsCancellationRequested; i += publishers * inflight)
            {
                if (rate > 0)
                {
                    // Paced: message k of all workers is due k / rate seconds after the start.
                    var due = TimeSpan.FromSeconds(Interlocked.Increment(ref issued) / (double)rate);
                    if (due > clock.Elapsed)
                    {
                        await Task.Delay(due - clock.Elapsed, CancellationToken.None);
                    }
                }

                // Not cancelled: a publish in flight completes (and counts) after the load period.
                await client.PublishAsync(new MqttApplicationMessageBuilder()
                    .WithTopic(MqttBenchmark.MeasuredTopic)
                    .WithPayload(payloads[i % payloads.Length])
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                    .Build(), CancellationToken.None);
                Interlocked.Increment(ref acknowledged);
            }
        })));
        foreach (var client in clients)
        {
            await client.DisconnectAsync(new MqttClientDisconnectOptions(), CancellationToken.None);
            client.Dispose();
        }

        return Interlocked.Read(ref acknowledged);
    }

    private static async Task<Samples> SampleAsync(int pid, TimeSpan duration, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var rss = new List<long>();
        long peakAnon = 0, peakFile = 0, max = 0;
        while (clock.Elapsed < duration)
        {
            await Task.Delay(500, cancellationToken);
            var status = ReadStatus(pid);
            var current = status.GetValueOrDefault("VmRSS");
            rss.Add(current);
            if (current >= max)
            {
                max = current;
                peakAnon = status.GetValueOrDefault("RssAnon");
                peakFile = status.GetValueOrDefault("RssFile") + status.GetValueOrDefault("RssShmem");
            }
        }

        return new Samples(rss[^1], (long)rss.Average(), max, peakAnon, peakFile);
    }

    private static Dictionary<string, long> ReadStatus(int pid)
    {
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in File.ReadAllLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && line.EndsWith(" kB", StringComparison.Ordinal))
            {
                result[line[..colon]] = long.Parse(line[(colon + 1)..^3].Trim(), CultureInfo.InvariantCulture);
            }
        }

        return result;
    }

    private static async Task WaitForPortAsync(int port, ChildProcess process)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The agent exited with code {process.ExitCode} before listening on {port}.");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync("127.0.0.1", port, deadline.Token);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100, deadline.Token);
            }
        }
    }

    internal static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Fractal.sln")))
            {
                return dir.FullName;
            }
        }

        return Directory.GetCurrentDirectory();
    }

    private readonly record struct Samples(long LastKb, long MeanKb, long MaxKb, long PeakAnonKb, long PeakFileKb);

    private readonly record struct Result(long IdleKb, long LoadMeanKb, long LoadMaxKb, long PeakAnonKb, long PeakFileKb, double Rate, string? Failure);
}
