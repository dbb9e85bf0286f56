namespace Fractal.Packaging.Tests;

/// <summary>
/// The packages under test, built once per run: version <see cref="First"/> and <see cref="Second"/>
/// for amd64 (the upgrade test needs two) and <see cref="First"/> for arm64 (content checks only).
/// packaging/test.sh builds them and passes the directory in FRACTAL_DEB_DIR; without it the
/// fixture runs packaging/deb/build-deb.sh itself. Installing needs root and dpkg: without them
/// every test here fails with the reason.
/// </summary>
public sealed class PackagesFixture : IAsyncLifetime
{
    public const string First = "0.1.0~pkgtest1";
    public const string Second = "0.1.0~pkgtest2";
    public const string PackageName = "fractal-agent";

    private static readonly string[] RequiredTools = ["dpkg", "dpkg-deb", "dpkg-query", "lintian", "systemd-analyze", "setpriv", "adduser", "deb-systemd-helper"];

    public string RepositoryRoot { get; } = FindRepositoryRoot();

    public string AmdFirst { get; private set; } = string.Empty;

    public string AmdSecond { get; private set; } = string.Empty;

    public string ArmFirst { get; private set; } = string.Empty;

    /// <summary>Why the packages could not be had; tests fail with this text.</summary>
    public string? Problem { get; private set; }

    public void EnsureReady() => Assert.True(Problem is null, Problem);

    public async Task InitializeAsync()
    {
        var missing = RequiredTools.Where(t => Command.Which(t) is null).ToList();
        if (missing.Count > 0)
        {
            Problem = $"The packaging tests need these tools on PATH: {string.Join(", ", missing)}. "
                + "Install them with: apt-get install dpkg-dev lintian systemd adduser init-system-helpers util-linux (packaging/test.sh does).";
            return;
        }

        var uid = (await Command.RunAsync("id", "-u")).StandardOutput.Trim();
        if (uid != "0")
        {
            Problem = $"The packaging tests install fractal-agent with dpkg -i and need root; they run as uid {uid}. Run them as root (CI does), e.g. sudo packaging/test.sh.";
            return;
        }

        var dir = Environment.GetEnvironmentVariable("FRACTAL_DEB_DIR");
        if (string.IsNullOrEmpty(dir))
        {
            dir = Path.Combine(RepositoryRoot, "packaging", "out", "tests");
            var script = Path.Combine(RepositoryRoot, "packaging", "deb", "build-deb.sh");
            var timeout = TimeSpan.FromMinutes(20);
            var first = await Command.RunAsync(script, ["--arch", "all", "--version", First, "--out", dir], timeout);
            var second = first.ExitCode == 0
                ? await Command.RunAsync(script, ["--arch", "amd64", "--version", Second, "--out", dir, "--reuse-publish"], timeout)
                : first;
            if (second.ExitCode != 0)
            {
                Problem = $"build-deb.sh failed ({second.ExitCode}):\n{second.StandardError}";
                return;
            }
        }

        AmdFirst = Path.Combine(dir, $"{PackageName}_{First}_amd64.deb");
        AmdSecond = Path.Combine(dir, $"{PackageName}_{Second}_amd64.deb");
        ArmFirst = Path.Combine(dir, $"{PackageName}_{First}_arm64.deb");
        var absent = new[] { AmdFirst, AmdSecond, ArmFirst }.Where(p => !File.Exists(p)).ToList();
        if (absent.Count > 0)
        {
            Problem = $"Missing packages: {string.Join(", ", absent)} (FRACTAL_DEB_DIR={dir}). packaging/test.sh builds them.";
            return;
        }

        // A run that died half-way may have left the package installed.
        await PurgeIfInstalledAsync();
    }

    public async Task DisposeAsync()
    {
        if (Problem is null)
        {
            // Leave the machine as we found it, whatever the tests did.
            await PurgeIfInstalledAsync();
        }
    }

    public static async Task<string?> InstalledVersionAsync()
    {
        var query = await Command.RunAsync("dpkg-query", "-W", "-f=${Status} ${Version}", PackageName);
        if (query.ExitCode != 0)
        {
            return null;
        }

        var parts = query.StandardOutput.Split(' ');
        return parts.Length == 4 && parts[2] == "installed" ? parts[3] : null;
    }

    public static async Task PurgeIfInstalledAsync()
    {
        var status = await Command.RunAsync("dpkg-query", "-W", "-f=${db:Status-Abbrev}", PackageName);
        if (status.ExitCode == 0 && !status.StandardOutput.StartsWith("un", StringComparison.Ordinal) && status.StandardOutput.Trim().Length > 0)
        {
            (await Command.RunAsync("dpkg", "--purge", PackageName)).EnsureSuccess();
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Fractal.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Fractal.sln not found above " + AppContext.BaseDirectory);
    }
}

[CollectionDefinition(Name)]
public sealed class PackageTestGroup : ICollectionFixture<PackagesFixture>
{
    public const string Name = "packages";
}
