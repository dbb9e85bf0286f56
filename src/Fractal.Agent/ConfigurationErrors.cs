using Fractal.Agent.Sync;
using Microsoft.Extensions.Options;

namespace Fractal.Agent;

/// <summary>Recognizes start-up failures caused by configuration, and phrases them for the journal.</summary>
internal static class ConfigurationErrors
{
    public static bool TryDescribe(Exception exception, out string message)
    {
        switch (exception)
        {
            case ConfigurationValueException config:
                message = config.Message;
                return true;
            case OptionsValidationException validation:
                message = "Invalid configuration: " + string.Join("; ", validation.Failures);
                return true;
            case InvalidDataException data when data.Message.Contains("configuration", StringComparison.OrdinalIgnoreCase):
                // A JSON file that does not parse: the message names the file, the inner one the line.
                message = $"{data.Message} {data.InnerException?.Message}".Trim();
                return true;
            case FileNotFoundException missing when missing.Message.Contains("configuration file", StringComparison.OrdinalIgnoreCase):
                message = missing.Message;
                return true;
            case InvalidOperationException binding when binding.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal):
                // The binder names the key and the value; its inner exception says why.
                message = $"Invalid configuration: {binding.Message} ({binding.InnerException?.Message})";
                return true;
            case AggregateException aggregate:
                foreach (var inner in aggregate.Flatten().InnerExceptions)
                {
                    if (TryDescribe(inner, out message))
                    {
                        return true;
                    }
                }

                break;
            case { InnerException: { } inner } when exception is InvalidOperationException:
                return TryDescribe(inner, out message);
        }

        message = string.Empty;
        return false;
    }
}
