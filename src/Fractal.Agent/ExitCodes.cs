namespace Fractal.Agent;

/// <summary>Process exit codes (docs/design/0006-exit-codes-and-configuration.md).</summary>
internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>EX_CONFIG from sysexits.h: the configuration is wrong; restarting will not help.</summary>
    public const int BadConfiguration = 78;
}
