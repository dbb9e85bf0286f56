using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Fractal.CloudHub.Hosting;

/// <summary>The addresses the hub actually bound (port 0 resolved), known once the host has started.</summary>
public sealed class HubEndpoints
{
    internal ListenOptions? Grpc { get; set; }

    internal ListenOptions? Http { get; set; }

    /// <summary>The gRPC (HTTP/2 cleartext) address, e.g. <c>http://127.0.0.1:5180</c>.</summary>
    public Uri GrpcAddress => ToUri(Grpc) ?? throw new InvalidOperationException("The hub has not started.");

    /// <summary>The HTTP/1.1 address for REST and metrics, or null when disabled.</summary>
    public Uri? HttpAddress => ToUri(Http);

    private static Uri? ToUri(ListenOptions? listen)
    {
        if (listen?.IPEndPoint is not { } endpoint)
        {
            return null;
        }

        var host = endpoint.Address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{endpoint.Address}]" : endpoint.Address.ToString();
        if (endpoint.Address.Equals(IPAddress.IPv6Any) || endpoint.Address.Equals(IPAddress.Any))
        {
            // Bound to every interface; loopback reaches it from this machine.
            host = "127.0.0.1";
        }

        return new Uri($"http://{host}:{endpoint.Port}");
    }
}
