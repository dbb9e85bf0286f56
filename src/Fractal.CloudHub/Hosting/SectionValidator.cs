using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Microsoft.Extensions.Options;

namespace Fractal.CloudHub.Hosting;

/// <summary>
/// Runs an options class's DataAnnotations and reports each failure as
/// <c>Section:Property = 'value': message</c>, so the exit-78 message names the key and the value
/// an operator has to fix.
/// </summary>
internal sealed class SectionValidator<TOptions> : IValidateOptions<TOptions>
    where TOptions : class
{
    private readonly string _sectionName;

    public SectionValidator(string sectionName) => _sectionName = sectionName;

    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var results = new List<ValidationResult>();
        if (Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true))
        {
            return ValidateOptionsResult.Success;
        }

        var failures = new List<string>();
        foreach (var result in results)
        {
            var members = result.MemberNames.Any() ? result.MemberNames : [string.Empty];
            foreach (var member in members)
            {
                var value = member.Length == 0 ? null : typeof(TOptions).GetProperty(member)?.GetValue(options);
                var shown = value is null ? "(empty)" : $"'{Convert.ToString(value, CultureInfo.InvariantCulture)}'";
                failures.Add($"{_sectionName}:{member} = {shown}: {result.ErrorMessage}");
            }
        }

        return ValidateOptionsResult.Fail(failures);
    }
}
