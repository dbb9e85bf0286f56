using System.Text.RegularExpressions;
using Fractal.CloudHub.Api;
using Fractal.CloudHub.Hosting;
using Fractal.CloudHub.Ingest;
using Fractal.CloudHub.Observability;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Fractal.CloudHub;

/// <summary>
/// The one embeddable hub: the program runs it, tests start it in-process on port 0. Configuration
/// comes from appsettings, environment (<c>DataLake__Root</c>) and the command line
/// (<c>--DataLake:Root=/srv/lake --Hub:GrpcUrl=http://0.0.0.0:5180</c>).
/// </summary>
public static partial class FractalHubApplication
{
    /// <summary>Exit code for a configuration error (EX_CONFIG); systemd does not restart on it.</summary>
    public const int ConfigurationErrorExitCode = 78;

    /// <summary>
    /// Builds the hub with all its endpoints mapped; start it with <c>StartAsync</c>. Throws
    /// <see cref="OptionsValidationException"/> when the listen URLs are invalid (Kestrel reads them
    /// while building); other options are validated by <c>StartAsync</c>.
    /// </summary>
    public static WebApplication Build(string[] args) => Build(WebApplication.CreateBuilder(args));

    private static WebApplication Build(WebApplicationBuilder builder)
    {
        builder.Services.AddFractalHub(builder.Configuration);

        var app = builder.Build();
        app.MapGrpcService<IngestGrpcService>();
        app.MapLakeApi();
        app.MapHealthChecks("/healthz");
        app.MapMetrics("/metrics");
        HubMetrics.Publish();
        return app;
    }

    /// <summary>
    /// Runs the hub until shutdown. Prints <c>Hub listening on {address}</c> once bound (system tests
    /// read it to learn a port-0 address). Returns 0, or <see cref="ConfigurationErrorExitCode"/>
    /// with a message naming the key and the value when the configuration is invalid.
    /// </summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        WebApplication? app = null;
        try
        {
            try
            {
                app = Build(builder);
                await app.StartAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (DescribeConfigurationError(ex, builder.Configuration) is { } message)
            {
                await Console.Error.WriteLineAsync($"fractal-hub: invalid configuration: {message}").ConfigureAwait(false);
                return ConfigurationErrorExitCode;
            }

            var endpoints = app.Services.GetRequiredService<HubEndpoints>();
            HubLog.Listening(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Fractal.CloudHub"), endpoints.GrpcAddress, endpoints.HttpAddress);
            await Console.Out.WriteLineAsync($"Hub listening on {endpoints.GrpcAddress.GetLeftPart(UriPartial.Authority)}").ConfigureAwait(false);
            if (endpoints.HttpAddress is { } http)
            {
                await Console.Out.WriteLineAsync($"Hub HTTP/1.1 (REST, metrics) on {http.GetLeftPart(UriPartial.Authority)}").ConfigureAwait(false);
            }

            await Console.Out.FlushAsync().ConfigureAwait(false);
            await app.WaitForShutdownAsync().ConfigureAwait(false);
            return 0;
        }
        finally
        {
            if (app is not null)
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Null unless <paramref name="exception"/> is a configuration error; then what to tell the operator.</summary>
    internal static string? DescribeConfigurationError(Exception exception, IConfiguration configuration)
    {
        switch (exception)
        {
            case OptionsValidationException validation:
                return string.Join("; ", validation.Failures);
            case AggregateException aggregate when aggregate.InnerExceptions.All(e => e is OptionsValidationException):
                return string.Join("; ", aggregate.InnerExceptions.Cast<OptionsValidationException>().SelectMany(e => e.Failures));
            case InvalidOperationException when BinderFailure().Match(exception.Message) is { Success: true } match:
                // The binder names the key but not the value; add it.
                var key = match.Groups["key"].Value;
                return $"{key} = '{configuration[key]}': not a valid {match.Groups["type"].Value}";
            default:
                return null;
        }
    }

    [GeneratedRegex("^Failed to convert configuration value (?:'.*' )?at '(?<key>[^']+)' to type '(?<type>[^']+)'")]
    private static partial Regex BinderFailure();
}
