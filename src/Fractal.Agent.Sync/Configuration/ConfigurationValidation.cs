using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync;

/// <summary>
/// Options validation that names the configuration key and the value, not just the member:
/// an operator reading the journal must see which line of agent.json to fix.
/// </summary>
public static class ConfigurationValidation
{
    /// <summary>Binds <typeparamref name="TOptions"/> to <paramref name="sectionName"/> and validates it on start.</summary>
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions>(this IServiceCollection services, IConfiguration configuration, string sectionName)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return services.AddOptions<TOptions>()
            .Bind(configuration.GetSection(sectionName))
            .Validate(options =>
            {
                ValidateAnnotations(options, sectionName);
                return true;
            })
            .ValidateOnStart();
    }

    /// <summary>Runs DataAnnotations on <paramref name="options"/>; throws <see cref="ConfigurationValueException"/> on the first failure.</summary>
    public static void ValidateAnnotations(object options, string sectionPath)
    {
        ArgumentNullException.ThrowIfNull(options);
        var results = new List<ValidationResult>();
        if (Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true))
        {
            return;
        }

        var first = results[0];
        var member = first.MemberNames.FirstOrDefault() ?? string.Empty;
        var value = member.Length == 0 ? null : options.GetType().GetProperty(member)?.GetValue(options);
        throw new ConfigurationValueException(
            member.Length == 0 ? sectionPath : $"{sectionPath}:{member}",
            Convert.ToString(value, CultureInfo.InvariantCulture),
            first.ErrorMessage ?? "invalid value");
    }
}
