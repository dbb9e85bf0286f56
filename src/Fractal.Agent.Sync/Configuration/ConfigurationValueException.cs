namespace Fractal.Agent.Sync;

/// <summary>
/// A configuration value the agent cannot run with. The host turns it into exit code 78
/// (EX_CONFIG) with this message, which names the key and the value, so systemd does not
/// restart into the same mistake (RestartPreventExitStatus=78).
/// </summary>
public sealed class ConfigurationValueException : Exception
{
    public ConfigurationValueException(string key, string? value, string problem)
        : base($"Invalid configuration: {key}={Quote(value)}: {problem}")
    {
        Key = key;
        Value = value;
    }

    public ConfigurationValueException()
    {
        Key = string.Empty;
    }

    public ConfigurationValueException(string message)
        : base(message)
    {
        Key = string.Empty;
    }

    public ConfigurationValueException(string message, Exception innerException)
        : base(message, innerException)
    {
        Key = string.Empty;
    }

    /// <summary>Full configuration key, e.g. <c>Buffer:QuotaBytes</c>.</summary>
    public string Key { get; }

    /// <summary>The offending value as configured.</summary>
    public string? Value { get; }

    private static string Quote(string? value) => value is null ? "(missing)" : $"'{value}'";
}
