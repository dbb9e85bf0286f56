using System.Globalization;

namespace Fractal.Experiments;

/// <summary>
/// <c>fractal-experiments plot</c>: draws one chart from the CSV files of several runs (for runs
/// made by separate processes), with published results as dashed reference lines.
/// </summary>
internal static class PlotCommand
{
    public const string Usage = """
        fractal-experiments plot --out FILE.svg [--title TEXT] [--ymin 0.5]
                                 --series NAME=FILE.csv [--series ...] [--reference NAME=ACCURACY ...]
        """;

    /// <summary>Parses the arguments after <c>plot</c>, and writes the SVG.</summary>
    /// <exception cref="FormatException">An option is unknown, lacks its value, or has a bad value.</exception>
    public static void Run(IReadOnlyList<string> args)
    {
        string? output = null;
        var title = "Fashion-MNIST federated training";
        var yMin = 0.0;
        var series = new List<(string Name, IReadOnlyList<(int Round, double Accuracy)> Points)>();
        var references = new List<(string Name, double Accuracy)>();
        for (var i = 0; i < args.Count; i += 2)
        {
            if (i + 1 >= args.Count)
            {
                throw new FormatException($"Option {args[i]} needs a value.");
            }

            var value = args[i + 1];
            switch (args[i])
            {
                case "--out":
                    output = value;
                    break;
                case "--title":
                    title = value;
                    break;
                case "--ymin":
                    yMin = Number(args[i], value);
                    break;
                case "--series":
                    {
                        var (name, path) = Pair(args[i], value);
                        series.Add((name, ReadCsv(path)));
                        break;
                    }

                case "--reference":
                    {
                        var (name, accuracy) = Pair(args[i], value);
                        references.Add((name, Number(args[i], accuracy)));
                        break;
                    }

                default:
                    throw new FormatException($"Unknown option {args[i]}.");
            }
        }

        if (output is null || series.Count == 0)
        {
            throw new FormatException("plot needs --out and at least one --series.");
        }

        File.WriteAllText(output, SvgChart.Render(title, series, references, yMin));
    }

    /// <summary>Reads the round and test_accuracy columns of a run's CSV.</summary>
    internal static List<(int Round, double Accuracy)> ReadCsv(string path)
    {
        if (!File.Exists(path))
        {
            throw new FormatException($"No CSV file at {path}.");
        }

        var lines = File.ReadAllLines(path);
        if (lines.Length == 0 || !lines[0].StartsWith("round,test_accuracy", StringComparison.Ordinal))
        {
            throw new FormatException($"{path} is not a fractal-experiments CSV (header 'round,test_accuracy,...').");
        }

        var points = new List<(int Round, double Accuracy)>();
        for (var i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0)
            {
                continue;
            }

            var cells = lines[i].Split(',');
            if (cells.Length < 2
                || !int.TryParse(cells[0], NumberStyles.None, CultureInfo.InvariantCulture, out var round)
                || !double.TryParse(cells[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var accuracy)
                || accuracy is < 0 or > 1 || double.IsNaN(accuracy))
            {
                throw new FormatException($"{path}, line {i + 1}: '{lines[i]}' is not 'round,test_accuracy,...' with a round and an accuracy in [0, 1].");
            }

            points.Add((round, accuracy));
        }

        return points;
    }

    private static (string Name, string Value) Pair(string option, string value)
    {
        var at = value.LastIndexOf('=');
        return at > 0 && at < value.Length - 1
            ? (value[..at], value[(at + 1)..])
            : throw new FormatException($"Option {option}: '{value}' is not NAME=VALUE.");
    }

    private static double Number(string option, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && x is >= 0 and <= 1
            ? x
            : throw new FormatException($"Option {option}: '{value}' is not a number in [0, 1].");
}
