using System.ComponentModel.DataAnnotations;
using System.Net;
using Microsoft.AspNetCore.Http;

namespace Fractal.CloudHub.Hosting;

/// <summary>Where the hub listens (configuration section <c>Hub</c>).</summary>
public sealed class HubOptions
{
    /// <summary>The configuration section these options bind to.</summary>
    public const string SectionName = "Hub";

    /// <summary>The gRPC address used when neither <see cref="GrpcUrl"/> nor <c>urls</c> is set.</summary>
    public const string DefaultGrpcUrl = "http://127.0.0.1:5180";

    /// <summary>
    /// The gRPC endpoint: HTTP/2 without TLS (h2c, prior knowledge), as the agents dial it. The
    /// REST API and <c>/metrics</c> answer here too, over HTTP/2. Port 0 picks a free port; the
    /// program prints the bound address. When unset, the first entry of the standard <c>urls</c>
    /// setting (<c>--urls</c>) is used, else <see cref="DefaultGrpcUrl"/>.
    /// </summary>
    /// <value>The default value is null (see above).</value>
    [ListenUrl]
    public string? GrpcUrl { get; set; }

    /// <summary>
    /// An HTTP/1.1 endpoint for the REST API, <c>/healthz</c> and <c>/metrics</c> (curl,
    /// Prometheus). Empty disables it.
    /// </summary>
    /// <value>The default value is <c>http://127.0.0.1:5181</c>.</value>
    [ListenUrl]
    public string? HttpUrl { get; set; } = "http://127.0.0.1:5181";
}

/// <summary>
/// Accepts empty or <c>http://{IP address | localhost | * | +}:{port}</c>. TLS and mutual TLS
/// arrive with enrollment; until then the hub listens in cleartext.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class ListenUrlAttribute : ValidationAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext)
    {
        if (value is not string url || url.Length == 0)
        {
            return ValidationResult.Success;
        }

        return ListenUrl.TryParse(url, out _, out _, out var error)
            ? ValidationResult.Success
            : new ValidationResult(error, validationContext.MemberName is { } m ? [m] : null);
    }
}

internal static class ListenUrl
{
    public static bool TryParse(string url, out IPAddress address, out int port, out string error)
    {
        address = IPAddress.Loopback;
        port = 0;
        BindingAddress binding;
        try
        {
            binding = BindingAddress.Parse(url);
        }
        catch (FormatException)
        {
            error = "not a URL of the form http://host:port";
            return false;
        }

        if (!string.Equals(binding.Scheme, "http", StringComparison.OrdinalIgnoreCase))
        {
            error = "only http:// is supported (the hub serves HTTP/2 cleartext; terminate TLS in front of it)";
            return false;
        }

        if (binding.IsUnixPipe || binding.IsNamedPipe)
        {
            error = "pipes are not supported";
            return false;
        }

        port = binding.Port;
        var host = binding.Host;
        if (host is "*" or "+")
        {
            address = IPAddress.IPv6Any;
        }
        else if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            // Kestrel cannot bind "localhost" to port 0; loopback IPv4 serves the same purpose.
            address = IPAddress.Loopback;
        }
        else if (!IPAddress.TryParse(host.Trim('[', ']'), out address!))
        {
            address = IPAddress.Loopback;
            error = $"host '{host}' must be an IP address, localhost, * or +";
            return false;
        }

        if (port is < 0 or > 65535)
        {
            error = "port must be 0-65535";
            return false;
        }

        error = string.Empty;
        return true;
    }
}
