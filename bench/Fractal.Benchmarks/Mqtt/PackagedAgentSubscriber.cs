using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Fractal.Testing;

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
internal sealed partial class PackagedAgentSubscriber : ISink
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan FinalPollInterval = TimeSpan.FromMilliseconds(5);
    private const int FinalReadings = 1500;
    private static readonly TimeSpan StartPatience = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly HttpClient _http;
    private readonly Uri _metrics;
    private readonly CancellationTokenSource _stop = new();
    private Task _polling = Task.CompletedTask;
    private TimeSpan _cpuAtStart;
    private long _commitsAtStart;
    private long _groupCommits;
    private long _measuredSeen;
    private long _warmUpSeen;

    private PackagedAgentSubscriber(Process process, Uri metrics, string clientId)
    {
        _process = process;
        _metrics = metrics;
        _http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        ClientId = clientId;
    }

    public Countdown Measured { get; } = new();

    public Countdown WarmUp { get; } = new();

    public string ClientId { get; }

    public string Diagnostics
    {
        get
        {
            _process.Refresh();
            var commits = Interlocked.Read(ref _groupCommits) - _commitsAtStart;
            var cpu = (_process.TotalProcessorTime - _cpuAtStart).TotalMicroseconds / Math.Max(1, Measured.Count);
            return string.Create(CultureInfo.InvariantCulture, $"agent process: {cpu:N1} µs CPU per message, {commits:N0} group commits, {Measured.Count / (double)Math.Max(1, commits):N1} readings per commit");
        }
    }

    /// <summary>Starts the agent at <paramref name="agent"/> and waits until its metrics answer.</summary>
    public static async Task<PackagedAgentSubscriber> StartAsync(string agent, string host, int port, int receiveMaximum, string stateDirectory, IReadOnlyDictionary<string, string> settings)
    {
        var clientId = $"bench-agent-{Guid.NewGuid():N}";
        var metricsPort = FreePort.Next();
        var isAssembly = agent.EndsWith(".dll", StringComparison.Ordinal);
        var start = new ProcessStartInfo(isAssembly ? "dotnet" : agent)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        string[] arguments =
        [
            .. isAssembly ? new[] { agent } : [],
            $"--Agent:StateDirectory={stateDirectory}",
            "--Agent:NodeId=bench-node",
            "--Uplinks:Hub:Enabled=false",
            "--Metrics:Host=127.0.0.1",
            $"--Metrics:Port={metricsPort.ToString(CultureInfo.InvariantCulture)}",
            $"--Mqtt:BrokerHost={host}",
            $"--Mqtt:BrokerPort={port.ToString(CultureInfo.InvariantCulture)}",
            $"--Mqtt:ClientId={clientId}",
            $"--Mqtt:ReceiveMaximum={receiveMaximum.ToString(CultureInfo.InvariantCulture)}",
            $"--Streams:{Readings.Stream}:Priority=0",
            "--Streams:warmup:Priority=0",
            "--Logging:LogLevel:Default=Warning",
            .. settings.Select(kv => $"--{kv.Key}={kv.Value}"),
        ];
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"{agent} did not start.");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { Console.Error.WriteLine($"  agent: {e.Data}"); } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Console.Error.WriteLine($"  agent: {e.Data}"); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
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
    public void MarkStart()
    {
        _process.Refresh();
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

    private static long Counter(string exposition, string series)
    {
        foreach (Match m in SampleLine().Matches(exposition))
        {
            if (m.Groups["series"].Value == series)
            {
                return (long)double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    [GeneratedRegex(@"^(?<series>[a-z_]+(\{[^}]*\})?) (?<value>[0-9.eE+-]+)$", RegexOptions.Multiline)]
    private static partial Regex SampleLine();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _polling;
        if (!_process.HasExited)
        {
            // SIGTERM: the agent finishes in-flight commits and disconnects, as under systemd.
            using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            var exited = _process.WaitForExitAsync();
            if (await Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(20))) != exited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        await _process.WaitForExitAsync();
        _process.Dispose();
        _http.Dispose();
        _stop.Dispose();
    }
}
