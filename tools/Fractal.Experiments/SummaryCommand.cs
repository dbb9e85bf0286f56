using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Fractal.Experiments;

/// <summary>
/// <c>fractal-experiments summary DIR</c>: the best test accuracy of every run found under DIR
/// and, per (strategy, partition), the mean and spread over the runs' seeds, next to the
/// published NIID-Bench figures, as Markdown; then FedProx with mu tuned per partition, as the
/// reference reported it.
/// </summary>
/// <remarks>
/// The published figures are means over several seeds, so one run is compared with them only
/// as one sample: the table shows every seed and the mean over those found.
/// </remarks>
internal static partial class SummaryCommand
{
    public const string Usage = """
        fractal-experiments summary DIR [--rounds 50]
            (every run's CSV under DIR, named <partition>_<strategy>[_torch-init].csv; runs of one
             cell in different directories, such as seed-0/ and seed-1/, are its seeds; a run with
             fewer than --rounds rounds is marked as unfinished)
        """;

    private static readonly string[] PartitionOrder = ["iid", "dirichlet-0.5", "classes-2", "classes-3"];

    /// <summary>Parses the arguments after <c>summary</c> and returns the Markdown.</summary>
    /// <exception cref="FormatException">No directory, an unknown option, or no run in it.</exception>
    public static string Run(IReadOnlyList<string> args)
    {
        string? root = null;
        var plannedRounds = 50;
        for (var i = 0; i < args.Count; i++)
        {
            if (args[i] == "--rounds")
            {
                plannedRounds = i + 1 < args.Count && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var r) && r > 0
                    ? r
                    : throw new FormatException("Option --rounds needs a positive whole number.");
                i++;
            }
            else if (args[i].StartsWith('-') || root is not null)
            {
                throw new FormatException($"Unexpected argument {args[i]}: summary takes one directory and --rounds.");
            }
            else
            {
                root = args[i];
            }
        }

        if (root is null)
        {
            throw new FormatException("summary needs a directory.");
        }

        if (!Directory.Exists(root))
        {
            throw new FormatException($"No directory at {root}.");
        }

        var runs = Directory.EnumerateFiles(root, "*.csv", SearchOption.AllDirectories)
            .Select(path => RunResult.TryRead(path, SeedOf(Path.GetRelativePath(root, Path.GetDirectoryName(path)!))))
            .OfType<RunResult>()
            .ToList();
        return runs.Count == 0
            ? throw new FormatException($"No run CSV (header 'round,test_accuracy,...') under {root}.")
            : Render(runs, plannedRounds);
    }

    /// <summary>The Markdown tables for <paramref name="runs"/>: one row per cell, then one per run.</summary>
    internal static string Render(IReadOnlyList<RunResult> runs, int plannedRounds)
    {
        var md = new StringBuilder();
        md.AppendLine("| strategy | partition | published mean ± std | seeds | best per seed (round) | mean ± std | mean - published | first round at 85 % per seed |");
        md.AppendLine("|---|---|---|---|---|---|---|---|");
        var cells = runs.GroupBy(r => (r.Strategy, r.Partition))
            .Select(g => new Cell(g.Key.Strategy, g.Key.Partition, g.OrderBy(r => r.Seed, StringComparer.Ordinal).ToList()))
            .OrderBy(c => StrategyRank(c.Strategy)).ThenBy(c => c.Strategy, StringComparer.Ordinal).ThenBy(c => Rank(PartitionOrder, c.Partition))
            .ToList();
        foreach (var cell in cells)
        {
            var seeds = cell.Seeds;
            var (mean, std) = (cell.Mean, cell.Std);
            var published = PublishedResults.Find(cell.Strategy, cell.Partition);
            md.Append(Invariant($"| {cell.Strategy} | {cell.Partition} | "))
                .Append(published is { } p ? Invariant($"{p.Mean * 100:F2} ± {p.Std * 100:F2}") : "-")
                .Append(Invariant($" | {seeds.Count} | "))
                .Append(string.Join("; ", seeds.Select(r => Invariant($"{r.Seed}: {r.Best * 100:F2} ({r.BestRound}){(r.Rounds < plannedRounds ? $", {r.Rounds} of {plannedRounds} rounds" : string.Empty)}"))))
                .Append(" | ")
                .Append(seeds.Count > 1 ? Invariant($"{mean * 100:F2} ± {std * 100:F2}") : Invariant($"{mean * 100:F2}"))
                .Append(" | ")
                .Append(published is { } q ? Invariant($"{(mean - q.Mean) * 100:+0.00;-0.00}") : "-")
                .Append(" | ")
                .Append(string.Join("; ", seeds.Select(r => r.FirstAt85 is { } at ? Invariant($"{at}") : r.Rounds < plannedRounds ? "not yet" : "never")))
                .AppendLine(" |");
        }

        md.AppendLine();
        md.AppendLine("Standard deviations are sample standard deviations (n - 1) over the seeds found. A run not finished is marked with the rounds it has.");
        RenderTunedFedProx(md, cells);
        return md.ToString();
    }

    /// <summary>
    /// The reference tuned FedProx's mu over {0.001, 0.01, 0.1, 1} and published the best per
    /// partition (its README, "Training Hyperparameters"; <c>run_exp.py</c> runs all four), so a
    /// comparison with its FedProx column takes, per partition, the mu whose mean is highest among
    /// those run. With fewer values run than the reference's four, the figure is a lower bound.
    /// </summary>
    private static void RenderTunedFedProx(StringBuilder md, IReadOnlyList<Cell> cells)
    {
        var byPartition = cells.Where(c => FedProxMu(c.Strategy) is not null).GroupBy(c => c.Partition).OrderBy(g => Rank(PartitionOrder, g.Key)).ToList();
        if (byPartition.Count == 0)
        {
            return;
        }

        md.AppendLine();
        md.AppendLine("FedProx with mu tuned as the reference did (the highest mean among the mu values run; the reference tried 0.001, 0.01, 0.1 and 1):");
        md.AppendLine();
        md.AppendLine("| partition | mu run (seeds) | best mu | mean ± std | published mean ± std | mean - published |");
        md.AppendLine("|---|---|---|---|---|---|");
        foreach (var partition in byPartition)
        {
            var tried = partition.OrderBy(c => FedProxMu(c.Strategy)).ToList();
            var best = tried.Aggregate((a, b) => b.Mean > a.Mean ? b : a);
            var published = PublishedResults.Find(best.Strategy, best.Partition);
            md.Append(Invariant($"| {partition.Key} | "))
                .Append(string.Join(", ", tried.Select(c => Invariant($"{FedProxMu(c.Strategy)} ({c.Seeds.Count})"))))
                .Append(Invariant($" | {FedProxMu(best.Strategy)} | "))
                .Append(best.Seeds.Count > 1 ? Invariant($"{best.Mean * 100:F2} ± {best.Std * 100:F2}") : Invariant($"{best.Mean * 100:F2}"))
                .Append(" | ")
                .Append(published is { } p ? Invariant($"{p.Mean * 100:F2} ± {p.Std * 100:F2} | {(best.Mean - p.Mean) * 100:+0.00;-0.00}") : "- | -")
                .AppendLine(" |");
        }
    }

    /// <summary>FedProx's mu from a strategy label such as <c>fedprox-0.01</c>; null for other strategies.</summary>
    internal static double? FedProxMu(string strategy) =>
        strategy.StartsWith("fedprox-", StringComparison.Ordinal)
        && double.TryParse(strategy["fedprox-".Length..], NumberStyles.Float, CultureInfo.InvariantCulture, out var mu)
            ? mu
            : null;

    // FedAvg first, then FedProx by ascending mu, then anything else.
    private static (int, double) StrategyRank(string strategy) =>
        strategy == "fedavg" ? (0, 0) : FedProxMu(strategy) is { } mu ? (1, mu) : (2, 0);

    /// <summary>The runs of one (strategy, partition), one per seed, and their best accuracies' mean and spread.</summary>
    private sealed record Cell(string Strategy, string Partition, IReadOnlyList<RunResult> Seeds)
    {
        private readonly (double Mean, double Std) _spread = MeanAndSampleStd(Seeds.Select(r => r.Best).ToList());

        public double Mean => _spread.Mean;

        public double Std => _spread.Std;
    }

    /// <summary>A run's seed label: the <c>seed-N</c> folder on its path, else the folder itself.</summary>
    internal static string SeedOf(string relativeDirectory)
    {
        var segments = relativeDirectory.Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        return segments.FirstOrDefault(s => SeedFolder().IsMatch(s)) ?? relativeDirectory;
    }

    [GeneratedRegex("^seed-[0-9]+$")]
    private static partial Regex SeedFolder();

    internal static (double Mean, double Std) MeanAndSampleStd(IReadOnlyList<double> values)
    {
        var mean = values.Average();
        var std = values.Count > 1 ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1)) : 0;
        return (mean, std);
    }

    private static int Rank(string[] order, string key)
    {
        var at = Array.IndexOf(order, key);
        return at < 0 ? order.Length : at;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}

/// <summary>One run's CSV, reduced to what the summary compares.</summary>
internal sealed partial record RunResult(string Strategy, string Partition, string Seed, int Rounds, double Best, int BestRound, int? FirstAt85)
{
    /// <summary>Reads a run's CSV; null for a CSV that is not a run's (other name or header).</summary>
    /// <exception cref="FormatException">A run's CSV with a malformed row.</exception>
    public static RunResult? TryRead(string path, string seed)
    {
        var match = RunFileName().Match(Path.GetFileName(path));
        if (!match.Success || !File.ReadLines(path).FirstOrDefault("").StartsWith("round,test_accuracy", StringComparison.Ordinal))
        {
            return null;
        }

        var points = PlotCommand.ReadCsv(path);
        return FromPoints(match.Groups["strategy"].Value, match.Groups["partition"].Value, seed, points);
    }

    /// <summary>The summary of one run's rounds (round 0 is the initial model and never the best).</summary>
    public static RunResult? FromPoints(string strategy, string partition, string seed, IReadOnlyList<(int Round, double Accuracy)> points)
    {
        var rounds = points.Where(p => p.Round > 0).ToList();
        if (rounds.Count == 0)
        {
            return null;
        }

        // The first of equal bests, as "first round at" readings go.
        var best = rounds.Aggregate((a, b) => b.Accuracy > a.Accuracy ? b : a);
        var at85 = rounds.FindIndex(p => p.Accuracy >= 0.85);
        return new RunResult(strategy, partition, seed, rounds.Max(p => p.Round), best.Accuracy, best.Round, at85 < 0 ? null : rounds[at85].Round);
    }

    [GeneratedRegex("^(?<partition>[^_]+)_(?<strategy>[^_]+)(_[^_]+)?\\.csv$")]
    private static partial Regex RunFileName();
}

/// <summary>
/// Flower's reproduction of NIID-Bench on Fashion-MNIST (its baseline's README, "Expected
/// Results"): the best test accuracy over 50 rounds, mean and standard deviation over its seeds.
/// Its FedProx column is the best over the mu values it tuned, so it stands against every mu.
/// </summary>
internal static class PublishedResults
{
    private static readonly Dictionary<(string Strategy, string Partition), (double Mean, double Std)> FashionMnist = new()
    {
        [("fedavg", "iid")] = (0.8923, 0.0045),
        [("fedavg", "dirichlet-0.5")] = (0.8809, 0.0029),
        [("fedavg", "classes-2")] = (0.7810, 0.0251),
        [("fedavg", "classes-3")] = (0.8243, 0.0152),
        [("fedprox", "iid")] = (0.8942, 0.0009),
        [("fedprox", "dirichlet-0.5")] = (0.8815, 0.0042),
        [("fedprox", "classes-2")] = (0.7805, 0.0099),
        [("fedprox", "classes-3")] = (0.8299, 0.0048),
    };

    public static (double Mean, double Std)? Find(string strategy, string partition) =>
        FashionMnist.TryGetValue((SummaryCommand.FedProxMu(strategy) is null ? strategy : "fedprox", partition), out var result) ? result : null;
}
