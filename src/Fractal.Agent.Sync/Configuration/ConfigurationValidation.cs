using System.ComponentModel.DataAnnotations;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync;

/// <summary>
/// Options validation that names the configuration key and the value, not just the member:
/// an operator reading the journal must see which line of agent.json to fix.
/// </summary>
/// <remarks>
/// Binding stays at the call sites (<c>AddOptions&lt;T&gt;().Bind(section)</c> with a concrete type)
/// so that the configuration binder's source generator replaces the reflection binder: the packaged
/// agent is compiled ahead of time (docs/design/0013-native-aot-agent.md).
/// </remarks>
public static class ConfigurationValidation
{
    private const DynamicallyAccessedMemberTypes ValidatedMembers =
        DynamicallyAccessedMemberTypes.PublicProperties | DynamicallyAccessedMemberTypes.PublicParameterlessConstructor;

    /// <summary>Validates the bound options on start; a failure names <paramref name="sectionPath"/>:member and the value.</summary>
    public static OptionsBuilder<TOptions> ValidateConfiguration<[DynamicallyAccessedMembers(ValidatedMembers)] TOptions>(
        this OptionsBuilder<TOptions> builder, string sectionPath)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder
            .Validate(options =>
            {
                ValidateAnnotations(options, sectionPath);
                return true;
            })
            .ValidateOnStart();
    }

    /// <summary>Runs DataAnnotations on <paramref name="options"/>; throws <see cref="ConfigurationValueException"/> on the first failure.</summary>
    [UnconditionalSuppressMessage(
        "Trimming",
        "IL2026:RequiresUnreferencedCode",
        Justification = "The validator reflects over TOptions' public properties and their attributes, which the "
            + "DynamicallyAccessedMembers annotation keeps. The AOT-compiled agent's start-up with bad values is "
            + "covered by the packaging tests.")]
    public static void ValidateAnnotations<[DynamicallyAccessedMembers(ValidatedMembers)] TOptions>(TOptions options, string sectionPath)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(options);
        var results = new List<ValidationResult>();
        var context = new ValidationContext(options, typeof(TOptions).Name, serviceProvider: null, items: null);
        if (Validator.TryValidateObject(options, context, results, validateAllProperties: true))
        {
            return;
        }

        var first = results[0];
        var member = first.MemberNames.FirstOrDefault() ?? string.Empty;
        var value = member.Length == 0 ? null : typeof(TOptions).GetProperty(member)?.GetValue(options);
        throw new ConfigurationValueException(
            member.Length == 0 ? sectionPath : $"{sectionPath}:{member}",
            Convert.ToString(value, CultureInfo.InvariantCulture),
            first.ErrorMessage ?? "invalid value");
    }
}
