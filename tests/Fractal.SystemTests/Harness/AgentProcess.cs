using System.Text.RegularExpressions;
using Fractal.Testing;
using Fractal.Testing.Processes;

namespace Fractal.SystemTests.Harness;

/// <summary>The agent as a real process (`dotnet fractal-agent.dll`), configured on the command line.</summary>
internal sealed partial class AgentProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly List<string> _args;
    private readonly Dictionary<string, string> _environment;
    private readonly HttpClient _http = new();
    private ChildProcess? _process;

    public AgentProcess(string stateDirectory, IEnumerable<string> extraArgs)
    {
        StateDirectory = stateDirectory;
        MqttPort = FreePort.Next();
        MetricsPort = FreePort.Next();
        Directory.CreateDirectory(stateDirectory);
        // An explicit (empty) operator file, so a package installed on the test machine cannot leak in.
        var config = Path.Combine(stateDirectory, "..", Path.GetFileName(stateDirectory) + "-agent.json");
        File.WriteAllText(config, "{}");
        _environment = new Dictionary<string, string> { ["FRACTAL_CONFIG"] = Path.GetFullPath(config) };
        _args =
        [
            $"--Agent:StateDirectory={stateDirectory}",
            "--Agent:NodeId=node-system-test",
            $"--Mqtt:EmbeddedPort={MqttPort}",
            $"--Metrics:Port={MetricsPort}",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Fractal.Agent.Sync.Mqtt=Information",
            .. extraArgs,
        ];
    }

    public string StateDirectory { get; }

    public int MqttPort { get; }

    public int MetricsPort { get; }

    public ChildProcess Process => _process ?? throw new InvalidOperationException("not started");

    public async Task StartAsync()
    {
        _process = ChildProcess.StartDotnet(RepositoryPaths.Program("Fractal.Agent", "fractal-agent"), _args, _environment);
        await _process.WaitForLineAsync("Embedded MQTT server listening", StartTimeout);
    }

    public async Task KillHardAsync()
    {
        if (_process is not null)
        {
            await _process.KillHardAsync();
            _process = null;
        }
    }

    /// <summary>Reads one unlabeled or labeled sample of the agent's Prometheus metrics.</summary>
    public async Task<double> MetricAsync(string name, string labels = "")
    {
        var text = await _http.GetStringAsync(new Uri($"http://127.0.0.1:{MetricsPort}/metrics"));
        return PrometheusText.Value(text, name + labels) ?? 0;
    }

    /// <summary>Waits until the buffer holds nothing: every reading was acknowledged by every uplink.</summary>
    public async Task WaitUntilDrainedAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        while (await MetricAsync("fractal_buffered_records") > 0)
        {
            // Readiness poll of an external process's metric; the outcome itself is asserted after.
            await Task.Delay(250, deadline.Token);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillHardAsync();
        _http.Dispose();
    }
}
