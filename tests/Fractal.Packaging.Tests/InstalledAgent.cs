using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Fractal.Packaging.Tests;

/// <summary>
/// The installed agent, started the way fractal-agent.service starts it: /usr/lib/fractal-agent/fractal-agent
/// as the user "fractal", STATE_DIRECTORY=/var/lib/fractal, /etc/fractal/agent.json, NOTIFY_SOCKET and
/// WATCHDOG_USEC set. Only the ports (free ones from the OS) and the hub uplink (off, so readings stay
/// in the buffer) are set by environment, as a `systemctl edit` drop-in would.
/// </summary>
internal sealed class InstalledAgent : IAsyncDisposable
{
    public const string Executable = "/usr/lib/fractal-agent/fractal-agent";
    public const string StateDirectory = "/var/lib/fractal";
    public const string ConfigFile = "/etc/fractal/agent.json";

    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private readonly StringBuilder _stdout = new();

    private InstalledAgent(Process process, int mqttPort, int metricsPort)
    {
        _process = process;
        MqttPort = mqttPort;
        MetricsPort = metricsPort;
    }

    public int MqttPort { get; }

    public int MetricsPort { get; }

    public int ProcessId => _process.Id;

    public string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public string StandardOutput
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    /// <param name="settings">Configuration keys (Section:Key) set as FRACTAL_ environment variables, after the defaults above.</param>
    public static InstalledAgent Start(string notifySocket, TimeSpan watchdog, int mqttPort, int metricsPort, IReadOnlyDictionary<string, string>? settings = null)
    {
        // setpriv execs the agent: the pid we hold is the agent's, as MAINPID would be.
        var start = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = StateDirectory,
        };
        foreach (var arg in new[] { "--reuid=fractal", "--regid=fractal", "--init-groups", "--no-new-privs", "--", Executable })
        {
            start.ArgumentList.Add(arg);
        }

        // systemd starts services with a clean environment; keep the test's own settings out.
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("FRACTAL_", StringComparison.Ordinal) || k.StartsWith("DOTNET_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(key);
        }

        start.Environment["HOME"] = StateDirectory;
        start.Environment["NOTIFY_SOCKET"] = notifySocket;
        start.Environment["WATCHDOG_USEC"] = ((long)watchdog.TotalMicroseconds).ToString(CultureInfo.InvariantCulture);
        start.Environment["STATE_DIRECTORY"] = StateDirectory;
        start.Environment["CONFIGURATION_DIRECTORY"] = "/etc/fractal";
        start.Environment["FRACTAL_Mqtt__EmbeddedPort"] = mqttPort.ToString(CultureInfo.InvariantCulture);
        start.Environment["FRACTAL_Metrics__Port"] = metricsPort.ToString(CultureInfo.InvariantCulture);
        start.Environment["FRACTAL_Uplinks__Hub__Enabled"] = "false";
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            start.Environment["FRACTAL_" + key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = new Process { StartInfo = start };
        var agent = new InstalledAgent(process, mqttPort, metricsPort);
        process.OutputDataReceived += (_, e) =>
        {
            lock (agent._stdout)
            {
                agent._stdout.AppendLine(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            lock (agent._stderr)
            {
                agent._stderr.AppendLine(e.Data);
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return agent;
    }

    /// <summary>Sends SIGTERM, as systemctl stop does, and waits for the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        (await Command.RunAsync("kill", "-TERM", ProcessId.ToString(CultureInfo.InvariantCulture))).EnsureSuccess();
        return await WaitForExitAsync(timeout);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the agent did not exit within {timeout}.\nstdout:\n{StandardOutput}\nstderr:\n{StandardError}");
        }

        return _process.ExitCode;
    }

    /// <summary>The agent's /metrics page, as Prometheus scrapes it.</summary>
    public async Task<string> MetricsTextAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        return await http.GetStringAsync(new Uri($"http://127.0.0.1:{MetricsPort}/metrics"));
    }

    /// <summary>The value of a gauge or counter without labels on /metrics, or null.</summary>
    public async Task<double?> MetricAsync(string name)
    {
        var text = await MetricsTextAsync();
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(name + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(name.Length + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    /// <summary>Polls /metrics until <paramref name="name"/> equals <paramref name="expected"/>.</summary>
    public async Task<double?> WaitForMetricAsync(string name, double expected, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        double? last = null;
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        while (deadline.Elapsed < timeout)
        {
            last = await MetricAsync(name);
            if (last == expected)
            {
                return last;
            }

            await tick.WaitForNextTickAsync();
        }

        return last;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
