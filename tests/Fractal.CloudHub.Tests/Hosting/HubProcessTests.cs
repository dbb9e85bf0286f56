using System.Diagnostics;
using System.Net;
using Fractal.Testing;

namespace Fractal.CloudHub.Tests.Hosting;

/// <summary>The built hub as a real process, as system tests and systemd run it.</summary>
public sealed class HubProcessTests
{
    private static readonly string HubDll = Path.Combine(AppContext.BaseDirectory, "fractal-hub.dll");

    [Theory]
    [InlineData("--DataLake:Backend=bogus", "DataLake:Backend = 'bogus'")]
    [InlineData("--Ingest:MaxBatchRecords=lots", "Ingest:MaxBatchRecords = 'lots'")]
    [InlineData("--Ingest:MaxMessageBytes=0", "Ingest:MaxMessageBytes = '0'")]
    [InlineData("--Hub:GrpcUrl=https://example.invalid:5180", "Hub:GrpcUrl = 'https://example.invalid:5180'")]
    [InlineData("--DataLake:Backend=s3", "DataLake:S3:Bucket = ''")]
    public async Task Main_InvalidConfiguration_ExitsWith78NamingKeyAndValue(string argument, string expected)
    {
        using var dir = new TestDirectory("exit78");

        var (exitCode, _, stderr) = await RunToExitAsync(dir, argument, $"--DataLake:Root={dir.Combine("lake")}");

        Assert.Equal(78, exitCode);
        Assert.Contains($"fractal-hub: invalid configuration: {expected}", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Main_PortZero_PrintsBoundAddressesAndServesHealthzAndSummary()
    {
        using var dir = new TestDirectory("process");
        using var process = Start(dir, "--Hub:GrpcUrl=http://127.0.0.1:0", "--Hub:HttpUrl=http://127.0.0.1:0", $"--DataLake:Root={dir.Combine("lake")}");
        try
        {
            var grpc = await ReadAddressAsync(process, "Hub listening on ");
            var http = await ReadAddressAsync(process, "Hub HTTP/1.1 (REST, metrics) on ");

            using var h2c = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
            using var h1 = new HttpClient();
            var summaryOverH2c = await h2c.GetStringAsync(new Uri(grpc, "/api/lake/summary"), TestHub.Timeout());
            var health = await h1.GetStringAsync(new Uri(http, "/healthz"), TestHub.Timeout());

            Assert.Equal("{\"partitions\":[],\"totalRecords\":0,\"totalLostRecords\":0}", summaryOverH2c);
            Assert.Equal("Healthy", health);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    private static Process Start(TestDirectory dir, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dir.Path,
        };
        info.ArgumentList.Add(HubDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.ArgumentList.Add("--Logging:LogLevel:Default=Warning");
        return Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunToExitAsync(TestDirectory dir, params string[] args)
    {
        using var process = Start(dir, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    private static async Task<Uri> ReadAddressAsync(Process process, string prefix)
    {
        while (await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)) is { } line)
        {
            if (line.StartsWith(prefix, StringComparison.Ordinal))
            {
                return new Uri(line[prefix.Length..].Trim());
            }
        }

        throw new InvalidOperationException($"the hub exited before printing '{prefix}'");
    }
}
