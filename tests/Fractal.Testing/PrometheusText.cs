using System.Globalization;

namespace Fractal.Testing;

/// <summary>Reads samples out of a Prometheus text exposition (what <c>/metrics</c> serves).</summary>
public static class PrometheusText
{
    /// <summary>
    /// The value of <paramref name="series"/>, written as on the page: a name, or a name with its
    /// labels such as <c>fractal_committed_total{stream="s"}</c>; null when the page has no such sample.
    /// </summary>
    public static double? Value(string exposition, string series)
    {
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
            {
                return double.Parse(line.AsSpan(series.Length + 1).Trim(), CultureInfo.InvariantCulture);
            }
        }

        return null;
    }
}
