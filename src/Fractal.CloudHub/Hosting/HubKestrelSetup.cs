using Fractal.CloudHub.Ingest;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Fractal.CloudHub.Hosting;

/// <summary>
/// Binds Kestrel from <see cref="HubOptions"/>: the gRPC endpoint speaks HTTP/2 only, because
/// cleartext HTTP/2 works by prior knowledge and Kestrel cannot offer both protocols on one
/// cleartext port; the optional second endpoint speaks HTTP/1.1 for curl and Prometheus.
/// </summary>
internal sealed class HubKestrelSetup : IConfigureOptions<KestrelServerOptions>
{
    private readonly IOptions<HubOptions> _hub;
    private readonly IOptions<IngestOptions> _ingest;
    private readonly IConfiguration _configuration;
    private readonly HubEndpoints _endpoints;

    public HubKestrelSetup(IOptions<HubOptions> hub, IOptions<IngestOptions> ingest, IConfiguration configuration, HubEndpoints endpoints)
    {
        _hub = hub;
        _ingest = ingest;
        _configuration = configuration;
        _endpoints = endpoints;
    }

    public void Configure(KestrelServerOptions options)
    {
        var hub = _hub.Value;
        options.AddServerHeader = false;

        // A batch is one HTTP/2 message; let the stream window hold a whole one.
        var window = Math.Max(options.Limits.Http2.InitialStreamWindowSize, Math.Min(_ingest.Value.MaxMessageBytes, 16 * 1024 * 1024));
        options.Limits.Http2.InitialConnectionWindowSize = Math.Max(options.Limits.Http2.InitialConnectionWindowSize, window);
        options.Limits.Http2.InitialStreamWindowSize = window;

        var grpcUrl = hub.GrpcUrl;
        if (string.IsNullOrEmpty(grpcUrl))
        {
            grpcUrl = _configuration["urls"]?.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault()
                ?? HubOptions.DefaultGrpcUrl;
        }

        _endpoints.Grpc = Listen(options, "Hub:GrpcUrl", grpcUrl, HttpProtocols.Http2);
        if (!string.IsNullOrEmpty(hub.HttpUrl))
        {
            _endpoints.Http = Listen(options, "Hub:HttpUrl", hub.HttpUrl, HttpProtocols.Http1);
        }
    }

    private static ListenOptions Listen(KestrelServerOptions options, string key, string url, HttpProtocols protocols)
    {
        if (!ListenUrl.TryParse(url, out var address, out var port, out var error))
        {
            throw new OptionsValidationException(key, typeof(HubOptions), [$"{key} = '{url}': {error}"]);
        }

        ListenOptions? bound = null;
        options.Listen(address, port, listen =>
        {
            listen.Protocols = protocols;
            bound = listen;
        });
        return bound!;
    }
}
