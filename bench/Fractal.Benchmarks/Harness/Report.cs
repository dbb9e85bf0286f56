using System.Globalization;
using System.Text;

namespace Fractal.Benchmarks;

/// <summary>Prints results as Markdown, ready for docs/benchmarks.md.</summary>
internal static class Report
{
    public static void Heading(string command, BenchArgs options)
    {
        var given = string.Join(' ', options.Given.Select(kv => $"--{kv.Key} {kv.Value}"));
        Console.WriteLine();
        Console.WriteLine($"### `{command}` ({DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture)} UTC, load average {LoadAverage()})");
        Console.WriteLine();
        Console.WriteLine($"Command: `Fractal.Benchmarks {command} {given}`".Replace(" `", "`", StringComparison.Ordinal).TrimEnd());
        Console.WriteLine();
    }

    public static void Line(string text)
    {
        Console.WriteLine(text);
    }

    public static void Progress(string text)
    {
        Console.Error.WriteLine($"[{DateTimeOffset.UtcNow:HH:mm:ss}] {text}");
    }

    public static void Table(IReadOnlyList<string> columns, IEnumerable<IReadOnlyList<string>> rows)
    {
        var sb = new StringBuilder();
        sb.Append("| ").AppendJoin(" | ", columns).AppendLine(" |");
        sb.Append('|').AppendJoin('|', columns.Select(_ => "---")).AppendLine("|");
        foreach (var row in rows)
        {
            sb.Append("| ").AppendJoin(" | ", row).AppendLine(" |");
        }

        Console.WriteLine(sb.ToString());
    }

    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    public static string Rate(double perSecond) => perSecond.ToString("N0", CultureInfo.InvariantCulture);

    public static string Ratio(double ratio) => ratio.ToString("0.00", CultureInfo.InvariantCulture);

    public static string Number(double value, string format = "N0") => value.ToString(format, CultureInfo.InvariantCulture);

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
