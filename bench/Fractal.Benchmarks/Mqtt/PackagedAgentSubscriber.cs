using System.Diagnostics;
using System.Globalization;
using Fractal.Testing;
using Fractal.Testing.Processes;

namespace Fractal.Benchmarks.Mqtt;

/// <summary>
/// The agent as it ships: its own process (the packaged Native AOT build, or <c>dotnet
/// fractal-agent.dll</c>), subscribed to the broker, counted by its committed-readings metric.
/// </summary>
/// <remarks>
/// Nothing of the agent runs in the benchmark's process, so its JIT and GC do not mix with the
/// publishers'. Commits are read from <c>/metrics</c>, which costs the agent about 0.9 ms of CPU
/// per scrape (7 % of a core at 100 scrapes a second, measured): every <see cref="PollInterval"/>
/// while far from the end, which the end-to-end window of 2,000 readings absorbs, and every
/// <see cref="FinalPollInterval"/> for the last readings, so the end is timed closely.
/// </remarks>
internal sealed class PackagedAgentSubscriber : Sink
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan FinalPollInterval = TimeSpan.FromMilliseconds(5);
    private const int FinalReadings = 1500;
    private static readonly TimeSpan StartPatience = TimeSpan.FromSeconds(30);

    private readonly ChildProcess _process;
    private readonly HttpClient _http;
    private readonly Uri _metrics;
    private readonly CancellationTokenSource _stop = new();
    private Task _polling = Task.CompletedTask;
    private TimeSpan _cpuAtStart;
    private long _commitsAtStart;
    private long _groupCommits;
    private long _measuredSeen;
    private long _warmUpSeen;

    private PackagedAgentSubscriber(ChildProcess process, Uri metrics, string clientId)
        : base(clientId)
    {
        _process = process;
        _metrics = metrics;
        _http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
    }

    public override string Diagnostics
    {
        get
        {
            var commits = Interlocked.Read(ref _groupCommits) - _commitsAtStart;
            var cpu = (_process.TotalProcessorTime - _cpuAtStart).TotalMicroseconds / Math.Max(1, Measured.Count);
            return string.Create(CultureInfo.InvariantCulture, $"agent process: {cpu:N1} µs CPU per message, ") + GroupCommitText(commits, Measured.Count);
        }
    }

    /// <summary>Starts the agent at <paramref name="agent"/> and waits until its metrics answer.</summary>
    public static async Task<PackagedAgentSubscriber> StartAsync(string agent, int niceness, string host, int port, int receiveMaximum, string stateDirectory, IReadOnlyDictionary<string, string> settings)
    {
        var clientId = $"bench-agent-{Guid.NewGuid():N}";
        var metricsPort = FreePort.Next();
        var configuration = AgentSettings(host, port, receiveMaximum, stateDirectory, clientId, settings);
        configuration.TryAdd("Metrics:Host", "127.0.0.1");
        configuration.TryAdd("Metrics:Port", metricsPort.ToString(CultureInfo.InvariantCulture));
        configuration.TryAdd("Logging:LogLevel:Default", "Warning");
        var process = PublishedAgent.Start(agent, configuration.Select(kv => $"--{kv.Key}={kv.Value}"), niceness: niceness);
        var sink = new PackagedAgentSubscriber(process, new Uri($"http://127.0.0.1:{metricsPort}/metrics"), clientId);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The agent exited with code {process.ExitCode} before serving its metrics.");
            }

            try
            {
                await sink.ScrapeAsync();
                break;
            }
            catch (HttpRequestException) when (deadline.Elapsed < StartPatience)
            {
                await Task.Delay(50);
            }
        }

        sink._polling = sink.PollAsync(sink._stop.Token);
        return sink;
    }

    /// <summary>Marks where the measured part starts, for the CPU and group-commit figures.</summary>
    public override void MarkStart()
    {
        _cpuAtStart = _process.TotalProcessorTime;
        _commitsAtStart = Interlocked.Read(ref _groupCommits);
    }

    private async Task PollAsync(CancellationToken stop)
    {
        try
        {
            while (true)
            {
                await Task.Delay(Measured.Remaining > FinalReadings ? PollInterval : FinalPollInterval, stop);
                await ScrapeAsync();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (HttpRequestException) when (_process.HasExited)
        {
            Console.Error.WriteLine($"  agent exited with code {_process.ExitCode}");
        }
    }

    private async Task ScrapeAsync()
    {
        var text = await _http.GetStringAsync(_metrics);
        var measured = Counter(text, $"fractal_committed_total{{stream=\"{Readings.Stream}\"}}");
        var warmUp = Counter(text, "fractal_committed_total{stream=\"warmup\"}");
        Interlocked.Exchange(ref _groupCommits, Counter(text, "fractal_group_commits_total"));
        Signal(Measured, ref _measuredSeen, measured);
        Signal(WarmUp, ref _warmUpSeen, warmUp);
    }

    private static void Signal(Countdown countdown, ref long seen, long now)
    {
        if (now > seen)
        {
            countdown.Signal((int)(now - seen));
            seen = now;
        }
    }

    private static long Counter(string exposition, string series) => (long)(PrometheusText.Value(exposition, series) ?? 0);

    public override async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _polling;
        try
        {
            // SIGTERM: the agent finishes in-flight commits and disconnects, as under systemd.
            await _process.StopAsync(TimeSpan.FromSeconds(20));
        }
        catch (TimeoutException)
        {
            // Disposing kills it.
        }

        await _process.DisposeAsync();
        PublishedAgent.EchoOutput(_process);
        _http.Dispose();
        _stop.Dispose();
    }
}
