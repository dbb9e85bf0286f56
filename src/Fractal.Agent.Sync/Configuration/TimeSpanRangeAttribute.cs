using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace Fractal.Agent.Sync;

/// <summary>
/// A <see cref="TimeSpan"/> property lies between two durations, inclusive.
/// </summary>
/// <remarks>
/// Replaces <c>[Range(typeof(TimeSpan), min, max)]</c>, which converts its bounds through a
/// TypeConverter found by reflection and so is not safe in the trimmed, ahead-of-time compiled agent.
/// </remarks>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
public sealed class TimeSpanRangeAttribute : ValidationAttribute
{
    /// <param name="minimum">The shortest allowed duration, as <c>[d.]hh:mm:ss[.fff]</c>.</param>
    /// <param name="maximum">The longest allowed duration, in the same format.</param>
    public TimeSpanRangeAttribute(string minimum, string maximum)
    {
        Minimum = TimeSpan.Parse(minimum, CultureInfo.InvariantCulture);
        Maximum = TimeSpan.Parse(maximum, CultureInfo.InvariantCulture);
        if (Minimum > Maximum)
        {
            throw new ArgumentException($"minimum {minimum} is above maximum {maximum}", nameof(minimum));
        }
    }

    public TimeSpan Minimum { get; }

    public TimeSpan Maximum { get; }

    public override bool IsValid(object? value) => value switch
    {
        null => true, // [Required] says whether a value must be present.
        TimeSpan span => span >= Minimum && span <= Maximum,
        _ => false,
    };

    public override string FormatErrorMessage(string name) =>
        string.Create(CultureInfo.InvariantCulture, $"The field {name} must be between {Minimum:c} and {Maximum:c}.");
}
