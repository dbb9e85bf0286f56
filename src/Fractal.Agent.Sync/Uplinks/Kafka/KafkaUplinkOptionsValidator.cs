using System.Globalization;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync.Uplinks.Kafka;

/// <summary>Cross-field checks DataAnnotations cannot express; messages name key and value.</summary>
internal sealed class KafkaUplinkOptionsValidator : IValidateOptions<KafkaUplinkOptions>
{
    /// <summary>Properties the transport sets itself: overriding them would void the delivery contract.</summary>
    internal static readonly HashSet<string> ReservedProperties = new(StringComparer.Ordinal)
    {
        "bootstrap.servers",
        "enable.idempotence",
        "acks",
        "request.required.acks",
        "max.in.flight.requests.per.connection",
        "max.in.flight",
        "message.send.max.retries",
        "retries",
        "linger.ms",
        "queue.buffering.max.ms",
        "batch.size",
        "compression.type",
        "compression.codec",
        "message.timeout.ms",
        "delivery.timeout.ms",
        "reconnect.backoff.max.ms",
    };

    public ValidateOptionsResult Validate(string? name, KafkaUplinkOptions options)
    {
        var failures = new List<string>();
        var section = KafkaUplinkOptions.SectionName;
        if (options.Linger >= options.MessageTimeout)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"{section}:Linger ({options.Linger}) must be shorter than {section}:MessageTimeout ({options.MessageTimeout})."));
        }

        if (string.Equals(options.RecordsTopic, options.LossesTopic, StringComparison.Ordinal))
        {
            failures.Add($"{section}:RecordsTopic and {section}:LossesTopic must differ (both are '{options.RecordsTopic}').");
        }

        foreach (var key in options.Properties.Keys)
        {
            if (ReservedProperties.Contains(key))
            {
                failures.Add($"{section}:Properties:{key} is set by the Kafka uplink itself and cannot be overridden.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
