using System.Globalization;
using System.Security;
using System.Text;

namespace Fractal.Experiments;

/// <summary>A hand-written SVG line chart of test accuracy per round (no plotting dependency).</summary>
internal static class SvgChart
{
    internal const int Width = 860;
    internal const int Height = 460;
    internal const int Left = 60;
    internal const int Right = 310;
    internal const int Top = 40;
    internal const int Bottom = 50;

    internal static readonly string[] Colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

    /// <summary>
    /// Renders one polyline per series; x = round, y = accuracy in [<paramref name="yMin"/>, 1]
    /// (lower points sit on the axis). Each reference is a dashed horizontal line (a published
    /// result) in the colour of the series with the same index.
    /// </summary>
    public static string Render(
        string title,
        IReadOnlyList<(string Name, IReadOnlyList<(int Round, double Accuracy)> Points)> series,
        IReadOnlyList<(string Name, double Accuracy)>? references = null,
        double yMin = 0)
    {
        references ??= [];
        yMin = Math.Clamp(Math.Floor(yMin * 10) / 10, 0, 0.9);
        var maxRound = Math.Max(1, series.SelectMany(s => s.Points).Select(p => p.Round).DefaultIfEmpty(1).Max());
        var plotWidth = Width - Left - Right;
        var plotHeight = Height - Top - Bottom;
        double X(int round) => Left + (plotWidth * round / (double)maxRound);
        double Y(double accuracy) => Top + (plotHeight * (1 - ((Math.Clamp(accuracy, yMin, 1) - yMin) / (1 - yMin))));

        var svg = new StringBuilder();
        svg.Append(Invariant($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n"));
        svg.Append(Invariant($"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n"));
        svg.Append(Invariant($"<text x=\"{Width / 2}\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">{Escape(title)}</text>\n"));

        var tickStep = yMin >= 0.5 ? 0.05 : 0.1;
        for (var tick = 0; tick <= (int)Math.Round((1 - yMin) / tickStep); tick++)
        {
            var value = yMin + (tick * tickStep);
            var y = Y(value);
            svg.Append(Invariant($"<line x1=\"{Left}\" y1=\"{y:F1}\" x2=\"{Left + plotWidth}\" y2=\"{y:F1}\" stroke=\"#e0e0e0\"/>\n"));
            svg.Append(Invariant($"<text x=\"{Left - 8}\" y=\"{y + 4:F1}\" text-anchor=\"end\">{value:F2}</text>\n"));
        }

        var step = Math.Max(1, (int)Math.Ceiling(maxRound / 10.0));
        for (var round = 0; round <= maxRound; round += step)
        {
            var x = X(round);
            svg.Append(Invariant($"<line x1=\"{x:F1}\" y1=\"{Top + plotHeight}\" x2=\"{x:F1}\" y2=\"{Top + plotHeight + 5}\" stroke=\"black\"/>\n"));
            svg.Append(Invariant($"<text x=\"{x:F1}\" y=\"{Top + plotHeight + 20}\" text-anchor=\"middle\">{round}</text>\n"));
        }

        svg.Append(Invariant($"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotWidth}\" height=\"{plotHeight}\" fill=\"none\" stroke=\"black\"/>\n"));
        svg.Append(Invariant($"<text x=\"{Left + (plotWidth / 2)}\" y=\"{Height - 10}\" text-anchor=\"middle\">round</text>\n"));
        svg.Append(Invariant($"<text transform=\"translate(16 {Top + (plotHeight / 2)}) rotate(-90)\" text-anchor=\"middle\">test accuracy</text>\n"));

        for (var i = 0; i < series.Count; i++)
        {
            var color = Colors[i % Colors.Length];
            var points = string.Join(' ', series[i].Points.Select(p => Invariant($"{X(p.Round):F1},{Y(p.Accuracy):F1}")));
            svg.Append(Invariant($"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{points}\"/>\n"));
            foreach (var (round, accuracy) in series[i].Points)
            {
                svg.Append(Invariant($"<circle cx=\"{X(round):F1}\" cy=\"{Y(accuracy):F1}\" r=\"2.5\" fill=\"{color}\"/>\n"));
            }

            var legendY = Top + 10 + (i * 20);
            var legendX = Left + plotWidth + 15;
            svg.Append(Invariant($"<line x1=\"{legendX}\" y1=\"{legendY}\" x2=\"{legendX + 20}\" y2=\"{legendY}\" stroke=\"{color}\" stroke-width=\"2\"/>\n"));
            svg.Append(Invariant($"<text x=\"{legendX + 26}\" y=\"{legendY + 4}\">{Escape(series[i].Name)}</text>\n"));
        }

        for (var i = 0; i < references.Count; i++)
        {
            var color = Colors[i % Colors.Length];
            var y = Y(references[i].Accuracy);
            svg.Append(Invariant($"<line x1=\"{Left}\" y1=\"{y:F1}\" x2=\"{Left + plotWidth}\" y2=\"{y:F1}\" stroke=\"{color}\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"));
            var legendY = Top + 10 + ((series.Count + i) * 20);
            var legendX = Left + plotWidth + 15;
            svg.Append(Invariant($"<line x1=\"{legendX}\" y1=\"{legendY}\" x2=\"{legendX + 20}\" y2=\"{legendY}\" stroke=\"{color}\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"));
            svg.Append(Invariant($"<text x=\"{legendX + 26}\" y=\"{legendY + 4}\">{Escape(references[i].Name)}</text>\n"));
        }

        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string Escape(string text) => SecurityElement.Escape(text) ?? string.Empty;
}
