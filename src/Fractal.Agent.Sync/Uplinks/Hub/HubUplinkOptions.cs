using System.ComponentModel.DataAnnotations;

namespace Fractal.Agent.Sync.Uplinks.Hub;

/// <summary>The hub's gRPC ingest endpoint (the default uplink).</summary>
public sealed class HubUplinkOptions
{
    public const string SectionName = "Uplinks:Hub";

    /// <summary>Hub address. <value>The default value is <c>http://127.0.0.1:5180</c>.</value></summary>
    [Required]
    [Url]
    public string Address { get; set; } = "http://127.0.0.1:5180";

    /// <summary>Largest gRPC message sent. <value>The default value is 16 MiB.</value></summary>
    [Range(1024, 256 * 1024 * 1024)]
    public int MaxMessageBytes { get; set; } = 16 * 1024 * 1024;
}
