using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace Fractal.Agent.Sync.Buffer;

/// <summary>
/// The configured streams (<c>Streams:{name}</c>) and their policies. A stream named <c>*</c>,
/// when configured, is the policy of every stream not named; without it unknown streams are bad
/// input and dead-lettered.
/// </summary>
public sealed partial class StreamCatalog
{
    public const string SectionName = "Streams";
    public const string Wildcard = "*";

    private readonly Dictionary<string, StreamPolicy> _policies;

    public StreamCatalog(IReadOnlyDictionary<string, StreamPolicy> policies)
    {
        ArgumentNullException.ThrowIfNull(policies);
        _policies = new Dictionary<string, StreamPolicy>(policies, StringComparer.Ordinal);
    }

    /// <summary>Streams named in configuration (not the wildcard).</summary>
    public IEnumerable<string> Named => _policies.Keys.Where(k => k != Wildcard);

    /// <summary>Finds the policy of a stream; false for an unknown stream when there is no wildcard.</summary>
    public bool TryGetPolicy(string stream, out StreamPolicy policy)
    {
        if (_policies.TryGetValue(stream, out policy!))
        {
            return true;
        }

        return _policies.TryGetValue(Wildcard, out policy!);
    }

    /// <summary>A stream name is 1-64 characters of letters, digits, '.', '_' and '-'.</summary>
    public static bool IsValidName(ReadOnlySpan<char> name) => StreamName().IsMatch(name);

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex StreamName();

    /// <summary>Binds <c>Streams</c> from configuration; invalid names or values throw <see cref="ConfigurationValueException"/>.</summary>
    public static StreamCatalog FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var policies = new Dictionary<string, StreamPolicy>(StringComparer.Ordinal);
        foreach (var section in configuration.GetSection(SectionName).GetChildren())
        {
            if (section.Key != Wildcard && !IsValidName(section.Key))
            {
                throw new ConfigurationValueException(section.Path, section.Key, "a stream name is 1-64 characters of letters, digits, '.', '_' and '-'");
            }

            var policy = new StreamPolicy();
            try
            {
                section.Bind(policy);
            }
            catch (InvalidOperationException ex)
            {
                // The binder's own message names the failing key (Streams:camera:WhenFull) and value.
                throw new ConfigurationValueException(section.Path, section.Value ?? "(section)", ex.InnerException is null ? ex.Message : $"{ex.Message} {ex.InnerException.Message}");
            }

            ConfigurationValidation.ValidateAnnotations(policy, section.Path);
            if (policy.Shape.Any(d => d <= 0 || d > 65536))
            {
                throw new ConfigurationValueException(section.Path + ":Shape", string.Join(',', policy.Shape), "every dimension must be between 1 and 65536");
            }

            if (policy.RetrainLocally && policy.TrainingReservoir == 0)
            {
                throw new ConfigurationValueException(section.Path + ":RetrainLocally", "true", "local retraining trains on the stream's training reservoir: set TrainingReservoir above 0");
            }

            policies[section.Key] = policy;
        }

        return new StreamCatalog(policies);
    }
}
