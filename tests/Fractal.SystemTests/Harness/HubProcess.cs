using System.Globalization;
using System.Net.Http.Json;
using Fractal.CloudHub.DataLake;
using Fractal.Testing;
using Fractal.Testing.Processes;
using Microsoft.Extensions.Logging.Abstractions;

namespace Fractal.SystemTests.Harness;

/// <summary>The hub as a real process on fixed loopback ports, so it can be stopped and started again.</summary>
internal sealed class HubProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly HttpClient _http = new();
    private ChildProcess? _process;

    public HubProcess(string lakeRoot)
    {
        LakeRoot = lakeRoot;
        GrpcPort = FreePort.Next();
        HttpPort = FreePort.Next();
        _http.BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}");
    }

    public string LakeRoot { get; }

    public int GrpcPort { get; }

    public int HttpPort { get; }

    public string GrpcAddress => $"http://127.0.0.1:{GrpcPort}";

    public async Task StartAsync()
    {
        _process = ChildProcess.StartDotnet(RepositoryPaths.Program("Fractal.CloudHub", "fractal-hub"),
        [
            $"--Hub:GrpcUrl={GrpcAddress}",
            $"--Hub:HttpUrl=http://127.0.0.1:{HttpPort}",
            $"--DataLake:Root={LakeRoot}",
            "--Logging:LogLevel:Default=Warning",
        ]);
        await _process.WaitForLineAsync("Hub listening on", StartTimeout);
    }

    public async Task StopAsync()
    {
        if (_process is not null)
        {
            await _process.DisposeAsync();
            _process = null;
        }
    }

    public async Task<LakeSummary> SummaryAsync()
        => await _http.GetFromJsonAsync<LakeSummary>("/api/lake/summary") ?? throw new InvalidOperationException("empty summary");

    /// <summary>Reads the lake's files directly, as an analyst's Parquet reader would.</summary>
    public ParquetDataLake OpenLake()
        => new(new LocalDirectoryBlobStore(LakeRoot, NullLogger<LocalDirectoryBlobStore>.Instance), NullLogger<ParquetDataLake>.Instance);

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _http.Dispose();
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"hub grpc:{GrpcPort} http:{HttpPort}");
}
