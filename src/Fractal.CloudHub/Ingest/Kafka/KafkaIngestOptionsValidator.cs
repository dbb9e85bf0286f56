using Microsoft.Extensions.Options;

namespace Fractal.CloudHub.Ingest.Kafka;

/// <summary>Cross-field checks DataAnnotations cannot express; messages name key and value.</summary>
internal sealed class KafkaIngestOptionsValidator : IValidateOptions<KafkaIngestOptions>
{
    private static readonly HashSet<string> ReservedProperties = new(StringComparer.Ordinal)
    {
        "bootstrap.servers",
        "group.id",
        "enable.auto.commit",
        "enable.auto.offset.store",
        "auto.offset.reset",
        "isolation.level",
    };

    public ValidateOptionsResult Validate(string? name, KafkaIngestOptions options)
    {
        var failures = new List<string>();
        var section = KafkaIngestOptions.SectionName;
        if (string.Equals(options.RecordsTopic, options.LossesTopic, StringComparison.Ordinal))
        {
            failures.Add($"{section}:RecordsTopic and {section}:LossesTopic must differ (both are '{options.RecordsTopic}').");
        }

        foreach (var key in options.Properties.Keys)
        {
            if (ReservedProperties.Contains(key))
            {
                failures.Add($"{section}:Properties:{key} is set by the Kafka ingest itself and cannot be overridden.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
