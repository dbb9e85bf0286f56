using System.Globalization;
using Fractal.Experiments;

namespace Fractal.Learning.Tests.Experiments;

public sealed class SummaryCommandTests : IDisposable
{
    private const string Header = "round,test_accuracy,mean_train_loss,clients,samples,seconds";
    private readonly string _root = Directory.CreateTempSubdirectory("fractal-summary-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Run_ThreeSeedsOfOneCell_ReportsEachBestTheirMeanAndSampleStd()
    {
        WriteRun("seed-0/classes-2", "classes-2_fedprox-0.01_torch-init.csv", 0.70, 0.78, 0.76);
        WriteRun("seed-1/classes-2", "classes-2_fedprox-0.01_torch-init.csv", 0.72, 0.80, 0.79);
        WriteRun("seed-2/classes-2", "classes-2_fedprox-0.01_torch-init.csv", 0.75, 0.74, 0.82);

        var markdown = SummaryCommand.Run([_root, "--rounds", "3"]);

        // Bests 78, 80, 82: mean 80.00, sample std 2.00; published FedProx #C=2 is 78.05 ± 0.99.
        var row = Row(markdown, "| fedprox-0.01 | classes-2 |");
        Assert.Contains("| 78.05 ± 0.99 | 3 |", row, StringComparison.Ordinal);
        Assert.Contains("seed-0: 78.00 (2); seed-1: 80.00 (2); seed-2: 82.00 (3)", row, StringComparison.Ordinal);
        Assert.Contains("| 80.00 ± 2.00 | +1.95 |", row, StringComparison.Ordinal);
        Assert.EndsWith("| never; never; never |", row, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_FedProxAtSeveralMu_ComparesEachWithThePublishedFedProxAndTunesMuByTheHighestMean()
    {
        WriteRun("seed-0/classes-2", "classes-2_fedprox-0.01_torch-init.csv", 0.76);
        WriteRun("seed-1/classes-2", "classes-2_fedprox-0.01_torch-init.csv", 0.77);
        WriteRun("seed-0/classes-2", "classes-2_fedprox-0.001_torch-init.csv", 0.79);
        WriteRun("seed-1/classes-2", "classes-2_fedprox-0.001_torch-init.csv", 0.81);
        WriteRun("seed-0/classes-2", "classes-2_fedprox-0.1_torch-init.csv", 0.70);
        WriteRun("seed-0/classes-2", "classes-2_fedavg_torch-init.csv", 0.90);

        var markdown = SummaryCommand.Run([_root, "--rounds", "1"]);

        // Every mu stands against the reference's FedProx column, which is its best over mu.
        Assert.Contains("| 78.05 ± 0.99 | 2 |", Row(markdown, "| fedprox-0.001 | classes-2 |"), StringComparison.Ordinal);
        Assert.Contains("| 78.05 ± 0.99 | 1 |", Row(markdown, "| fedprox-0.1 | classes-2 |"), StringComparison.Ordinal);
        // FedAvg first, then FedProx by ascending mu.
        var order = new[] { "| fedavg |", "| fedprox-0.001 |", "| fedprox-0.01 |", "| fedprox-0.1 |" }
            .Select(prefix => markdown.IndexOf(prefix, StringComparison.Ordinal)).ToList();
        Assert.Equal(order.Order(), order);
        // Tuned: mu 0.001 has the highest mean (80.00 against 76.50 and 70.00); FedAvg is not a mu.
        Assert.Equal(
            "| classes-2 | 0.001 (2), 0.01 (2), 0.1 (1) | 0.001 | 80.00 ± 1.41 | 78.05 ± 0.99 | +1.95 |",
            Row(markdown, "| classes-2 | 0.001"));
    }

    [Fact]
    public void Run_NoFedProxRun_HasNoTunedTable()
    {
        WriteRun("seed-0/iid", "iid_fedavg.csv", 0.80);

        var markdown = SummaryCommand.Run([_root, "--rounds", "1"]);

        Assert.DoesNotContain("mu tuned", markdown, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_UnfinishedRun_IsMarkedWithItsRoundsAndNotYetAt85()
    {
        WriteRun("seed-0/iid", "iid_fedavg.csv", 0.80, 0.84);

        var row = Row(SummaryCommand.Run([_root]), "| fedavg | iid |");

        Assert.Contains("seed-0: 84.00 (2), 2 of 50 rounds", row, StringComparison.Ordinal);
        Assert.EndsWith("| not yet |", row, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_FirstRoundAt85_IsTheFirstRoundAtOrAboveIt()
    {
        WriteRun("seed-0/iid", "iid_fedavg.csv", 0.84, 0.85, 0.90, 0.86);

        var row = Row(SummaryCommand.Run([_root, "--rounds", "4"]), "| fedavg | iid |");

        Assert.Contains("seed-0: 90.00 (3)", row, StringComparison.Ordinal);
        Assert.EndsWith("| 2 |", row, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_OtherCsvFilesBesideTheRuns_AreIgnored()
    {
        WriteRun("seed-0/iid", "iid_fedavg.csv", 0.80);
        File.WriteAllText(Path.Combine(_root, "seed-0", "notes.csv"), "a,b\n1,2\n");
        File.WriteAllText(Path.Combine(_root, "seed-0", "iid_fedprox.csv"), "name,value\nx,1\n");

        var markdown = SummaryCommand.Run([_root, "--rounds", "1"]);

        Assert.Contains("| fedavg | iid |", markdown, StringComparison.Ordinal);
        Assert.DoesNotContain("fedprox", markdown, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1,0.8x,0.1,10,100,1.0")]
    [InlineData("one,0.8,0.1,10,100,1.0")]
    [InlineData("1,1.5,0.1,10,100,1.0")]
    [InlineData("1,NaN,0.1,10,100,1.0")]
    [InlineData("1")]
    public void Run_MalformedRow_FailsNamingTheFileAndLine(string row)
    {
        Directory.CreateDirectory(Path.Combine(_root, "seed-0"));
        File.WriteAllText(Path.Combine(_root, "seed-0", "iid_fedavg.csv"), $"{Header}\n0,0.1000,NaN,0,0,0.0\n{row}\n");

        var error = Assert.Throws<FormatException>(() => SummaryCommand.Run([_root]));

        Assert.Contains("iid_fedavg.csv, line 3", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new string[0], "needs a directory")]
    [InlineData(new[] { "--rounds" }, "--rounds needs")]
    [InlineData(new[] { "DIR", "--rounds", "0" }, "--rounds needs")]
    [InlineData(new[] { "DIR", "--bogus" }, "Unexpected argument --bogus")]
    [InlineData(new[] { "DIR", "DIR" }, "Unexpected argument")]
    public void Run_BadArguments_FailWithTheReason(string[] args, string reason)
    {
        var resolved = args.Select(a => a == "DIR" ? _root : a).ToArray();

        var error = Assert.Throws<FormatException>(() => SummaryCommand.Run(resolved));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Run_DirectoryWithoutRuns_Fails()
    {
        var error = Assert.Throws<FormatException>(() => SummaryCommand.Run([_root]));

        Assert.Contains("No run CSV", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MeanAndSampleStd_OneValue_HasNoSpread()
    {
        Assert.Equal((0.5, 0.0), SummaryCommand.MeanAndSampleStd([0.5]));
    }

    private void WriteRun(string directory, string file, params double[] accuracies)
    {
        var path = Path.Combine(_root, directory);
        Directory.CreateDirectory(path);
        var rows = accuracies.Select((a, i) => string.Create(CultureInfo.InvariantCulture, $"{i + 1},{a:F4},0.1000,10,60000,{i + 1}.0"));
        File.WriteAllText(Path.Combine(path, file), string.Join('\n', [Header, "0,0.1000,NaN,0,0,0.0", .. rows]) + "\n");
    }

    private static string Row(string markdown, string prefix) =>
        markdown.Split('\n').Single(line => line.StartsWith(prefix, StringComparison.Ordinal));
}
