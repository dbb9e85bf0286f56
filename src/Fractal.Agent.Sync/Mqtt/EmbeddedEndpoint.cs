using System.Net;
using System.Net.Sockets;

namespace Fractal.Agent.Sync.Mqtt;

/// <summary>Which IPv4 and IPv6 addresses the embedded MQTT server listens on for one configured address.</summary>
/// <remarks>
/// MQTTnet listens on every IPv6 interface unless told otherwise, whatever IPv4 address it is given:
/// an agent configured for 127.0.0.1 would still accept sensors from the network over IPv6.
/// </remarks>
internal static class EmbeddedEndpoint
{
    /// <returns>The IPv4 and IPv6 addresses to bind; <see cref="IPAddress.None"/> leaves that family off.</returns>
    public static (IPAddress V4, IPAddress V6) Addresses(IPAddress configured)
    {
        ArgumentNullException.ThrowIfNull(configured);
        if (configured.Equals(IPAddress.Any) || configured.Equals(IPAddress.IPv6Any))
        {
            return (IPAddress.Any, IPAddress.IPv6Any);
        }

        if (configured.Equals(IPAddress.Loopback) || configured.Equals(IPAddress.IPv6Loopback))
        {
            return (IPAddress.Loopback, IPAddress.IPv6Loopback);
        }

        return configured.AddressFamily == AddressFamily.InterNetworkV6
            ? (IPAddress.None, configured)
            : (configured, IPAddress.None);
    }
}
