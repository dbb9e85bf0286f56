using System.ComponentModel.DataAnnotations;

namespace Fractal.Agent.Sync.Metrics;

/// <summary>The Prometheus scrape endpoint.</summary>
public sealed class MetricsOptions
{
    public const string SectionName = "Metrics";

    /// <summary>Port of <c>/metrics</c>; 0 disables the endpoint. <value>The default value is 9464.</value></summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 9464;

    /// <summary>Host name the endpoint binds. <value>The default value is <c>127.0.0.1</c>.</value></summary>
    [Required]
    public string Host { get; set; } = "127.0.0.1";
}
