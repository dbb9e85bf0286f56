using System.Text.RegularExpressions;

namespace Fractal.Packaging.Tests;

/// <summary>What is inside the .deb files, checked without installing them.</summary>
[Collection(PackageTestGroup.Name)]
public sealed class DebContentTests(PackagesFixture packages)
{
    private static readonly TimeSpan LintianTimeout = TimeSpan.FromMinutes(10);

    [Fact]
    public async Task FileList_Amd64_HasAgentUnitConffileAndOnlyTargetNativeLibraries()
    {
        packages.EnsureReady();
        var files = await ListAsync(packages.AmdFirst);

        Assert.Equal("-rwxr-xr-x root/root", files["./usr/lib/fractal-agent/fractal-agent"]);
        Assert.Equal("-rw-r--r-- root/root", files["./lib/systemd/system/fractal-agent.service"]);
        Assert.Equal("-rw-r--r-- root/root", files["./etc/fractal/agent.json"]);
        Assert.Contains("./usr/lib/fractal-agent/appsettings.json", files.Keys);
        // librdkafka without Cyrus SASL: the default x64 build needs libsasl2.so.3, which Debian lacks.
        Assert.Contains("./usr/lib/fractal-agent/centos8-librdkafka.so", files.Keys);
        Assert.DoesNotContain("./usr/lib/fractal-agent/librdkafka.so", files.Keys);
        // ONNX Runtime with its CPU provider; the shared-provider bridge only GPU providers load is left out.
        Assert.Contains("./usr/lib/fractal-agent/libonnxruntime.so", files.Keys);
        Assert.DoesNotContain("./usr/lib/fractal-agent/libonnxruntime_providers_shared.so", files.Keys);
        Assert.Contains("./usr/share/doc/fractal-agent/onnxruntime-ThirdPartyNotices.txt.gz", files.Keys);
        Assert.Contains("./usr/share/doc/fractal-agent/copyright", files.Keys);
        Assert.Contains("./usr/share/doc/fractal-agent/changelog.gz", files.Keys);
        Assert.Contains("./usr/share/lintian/overrides/fractal-agent", files.Keys);

        // One build of each native library, for this architecture; nothing the agent never loads.
        Assert.DoesNotContain(files.Keys, f => f.Contains("/runtimes/", StringComparison.Ordinal));
        Assert.DoesNotContain(files.Keys, f => Path.GetFileName(f).StartsWith("alpine-", StringComparison.Ordinal));
        Assert.DoesNotContain("./usr/lib/fractal-agent/libcoreclrtraceptprovider.so", files.Keys);
        Assert.DoesNotContain(files.Keys, f => f.EndsWith(".pdb", StringComparison.Ordinal) || f.EndsWith(".xml", StringComparison.Ordinal) || f.EndsWith(".dbg", StringComparison.Ordinal));
        // Native AOT: the runtime and every assembly are compiled into the executable.
        Assert.DoesNotContain(files.Keys, f => f.EndsWith(".dll", StringComparison.Ordinal));
        Assert.DoesNotContain("./usr/lib/fractal-agent/libcoreclr.so", files.Keys);
        // Everything installs under the package's own paths (and the directories leading to them).
        string[] own = ["./usr/lib/fractal-agent/", "./usr/share/doc/fractal-agent/", "./usr/share/lintian/overrides/fractal-agent", "./lib/systemd/system/fractal-agent.service", "./etc/fractal/"];
        string[] parents = [".", "./usr", "./usr/lib", "./usr/lib/fractal-agent", "./usr/share", "./usr/share/doc", "./usr/share/doc/fractal-agent", "./usr/share/lintian", "./usr/share/lintian/overrides", "./lib", "./lib/systemd", "./lib/systemd/system", "./etc", "./etc/fractal"];
        Assert.All(files.Keys, f => Assert.True(parents.Contains(f) || own.Any(o => f.StartsWith(o, StringComparison.Ordinal)), $"{f} is outside the package's paths"));

        await AssertElfMachineAsync(packages.AmdFirst, "Advanced Micro Devices X86-64");
    }

    [Fact]
    public async Task FileList_Arm64_TargetsAarch64()
    {
        packages.EnsureReady();
        var files = await ListAsync(packages.ArmFirst);
        Assert.Contains("./usr/lib/fractal-agent/fractal-agent", files.Keys);
        Assert.Contains("./usr/lib/fractal-agent/librdkafka.so", files.Keys);
        Assert.Contains("./usr/lib/fractal-agent/libonnxruntime.so", files.Keys);
        Assert.DoesNotContain(files.Keys, f => Path.GetFileName(f).StartsWith("alpine-", StringComparison.Ordinal));

        var control = await FieldsAsync(packages.ArmFirst);
        Assert.Equal("arm64", control["Architecture"]);
        Assert.DoesNotContain("libsasl2", control["Depends"], StringComparison.Ordinal);
        Assert.DoesNotContain(files.Keys, f => Path.GetFileName(f).StartsWith("centos8-", StringComparison.Ordinal));
        await AssertElfMachineAsync(packages.ArmFirst, "AArch64");
    }

    [Fact]
    public async Task Control_Amd64_NamesPackageVersionArchitectureAndDependencies()
    {
        packages.EnsureReady();
        var control = await FieldsAsync(packages.AmdFirst);

        Assert.Equal("fractal-agent", control["Package"]);
        Assert.Equal(PackagesFixture.First, control["Version"]);
        Assert.Equal("amd64", control["Architecture"]);
        Assert.Equal("net", control["Section"]);
        Assert.Equal("optional", control["Priority"]);
        Assert.Matches("^[0-9]+$", control["Installed-Size"]);
        foreach (var dependency in new[] { "adduser", "libc6 (>= 2.34)", "libssl3" })
        {
            Assert.Contains(dependency, control["Depends"], StringComparison.Ordinal);
        }

        // Self-contained: no .NET runtime package.
        Assert.DoesNotContain("dotnet", control["Depends"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ControlArea_Amd64_HasConffileAndMaintainerScripts()
    {
        packages.EnsureReady();
        using var dir = new Fractal.Testing.TestDirectory("control");
        (await Command.RunAsync("dpkg-deb", "--control", packages.AmdFirst, dir.Path)).EnsureSuccess();

        Assert.Equal(["/etc/fractal/agent.json"], File.ReadAllLines(dir.Combine("conffiles")));
        var postinst = await File.ReadAllTextAsync(dir.Combine("postinst"));
        Assert.Contains("adduser --system", postinst, StringComparison.Ordinal);
        Assert.Contains("deb-systemd-helper enable 'fractal-agent.service'", postinst, StringComparison.Ordinal);
        Assert.Contains("install -d -o fractal -g fractal -m 0750 /var/lib/fractal", postinst, StringComparison.Ordinal);
        var prerm = await File.ReadAllTextAsync(dir.Combine("prerm"));
        Assert.Contains("deb-systemd-invoke stop 'fractal-agent.service'", prerm, StringComparison.Ordinal);
        var postrm = await File.ReadAllTextAsync(dir.Combine("postrm"));
        Assert.Contains("rm -rf /var/lib/fractal", postrm, StringComparison.Ordinal);
        Assert.Contains("deb-systemd-helper purge 'fractal-agent.service'", postrm, StringComparison.Ordinal);
        foreach (var script in new[] { "postinst", "prerm", "postrm" })
        {
            Assert.Equal((UnixFileMode)0b111_101_101, File.GetUnixFileMode(dir.Combine(script)));
            (await Command.RunAsync("sh", "-n", dir.Combine(script))).EnsureSuccess();
        }
    }

    [Fact]
    public async Task Unit_Offline_IsHardenedToOkAndNotifiesWithWatchdog()
    {
        packages.EnsureReady();
        using var dir = new Fractal.Testing.TestDirectory("unit");
        (await Command.RunAsync("dpkg-deb", "-x", packages.AmdFirst, dir.Path)).EnsureSuccess();
        var unitPath = dir.Combine("lib", "systemd", "system", "fractal-agent.service");
        var unit = await File.ReadAllTextAsync(unitPath);

        foreach (var line in new[]
        {
            "Type=notify", "ExecStart=/usr/lib/fractal-agent/fractal-agent", "Restart=on-failure", "RestartPreventExitStatus=78",
            "User=fractal", "StateDirectory=fractal", "ConfigurationDirectory=fractal", "NoNewPrivileges=yes", "ProtectSystem=strict",
            "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=", "SystemCallFilter=@system-service",
        })
        {
            Assert.Contains(line, unit.Split('\n'));
        }

        Assert.Matches(new Regex("^WatchdogSec=[1-9][0-9]*s$", RegexOptions.Multiline), unit);

        var security = await Command.RunAsync("systemd-analyze", ["security", "--offline=true", "--no-pager", unitPath], TimeSpan.FromMinutes(1));
        var overall = Regex.Match(security.StandardOutput, "Overall exposure level for fractal-agent.service: ([0-9.]+) (\\w+)");
        Assert.True(overall.Success, security.StandardOutput + security.StandardError);
        Assert.True(double.Parse(overall.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) <= 2.0, overall.Value);
        Assert.Equal("OK", overall.Groups[2].Value);
    }

    [Fact]
    public async Task Lintian_BothArchitectures_ReportsNoErrorsOrWarnings()
    {
        packages.EnsureReady();
        foreach (var deb in new[] { packages.AmdFirst, packages.ArmFirst })
        {
            // Overridden tags are shipped in the package, each with its reason.
            var lintian = await Command.RunAsync("lintian", ["--fail-on", "error,warning", "--no-tag-display-limit", deb], LintianTimeout);
            Assert.True(lintian.ExitCode == 0, $"lintian {Path.GetFileName(deb)}:\n{lintian.StandardOutput}{lintian.StandardError}");
            Assert.DoesNotMatch(new Regex("^[EW]: ", RegexOptions.Multiline), lintian.StandardOutput);
        }
    }

    private static async Task<Dictionary<string, string>> ListAsync(string deb)
    {
        var listing = (await Command.RunAsync("dpkg-deb", "--contents", deb)).EnsureSuccess();
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in listing.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var path = columns[5].TrimEnd('/');
            files[path] = $"{columns[0]} {columns[1]}";
        }

        return files;
    }

    private static async Task<Dictionary<string, string>> FieldsAsync(string deb)
    {
        var info = (await Command.RunAsync("dpkg-deb", "--field", deb)).EnsureSuccess();
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in info.StandardOutput.Split('\n'))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0 && !line.StartsWith(' '))
            {
                fields[line[..colon]] = line[(colon + 1)..].Trim();
            }
        }

        return fields;
    }

    [Fact]
    public async Task SharedLibraries_Amd64_EveryShippedElfLoadsOnThisDebian()
    {
        // What the dynamic loader would do on an operator's node: every library each shipped ELF
        // needs is found (the package's own directory first, as the agent's resolver loads them).
        packages.EnsureReady();
        using var dir = new Fractal.Testing.TestDirectory("ldd");
        (await Command.RunAsync("dpkg-deb", "-x", packages.AmdFirst, dir.Path)).EnsureSuccess();
        var lib = dir.Combine("usr", "lib", "fractal-agent");
        var elves = Directory.EnumerateFiles(lib).Where(f => f.EndsWith(".so", StringComparison.Ordinal) || Path.GetFileName(f) == "fractal-agent").ToList();
        Assert.Equal(["centos8-librdkafka.so", "fractal-agent", "libonnxruntime.so"], elves.Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var elf in elves)
        {
            var ldd = (await Command.RunAsync("ldd", elf)).EnsureSuccess();
            Assert.DoesNotContain("not found", ldd.StandardOutput, StringComparison.Ordinal);
        }
    }

    private static async Task AssertElfMachineAsync(string deb, string machine)
    {
        using var dir = new Fractal.Testing.TestDirectory("elf");
        (await Command.RunAsync("dpkg-deb", "-x", deb, dir.Path)).EnsureSuccess();
        var lib = dir.Combine("usr", "lib", "fractal-agent");
        foreach (var file in Directory.EnumerateFiles(lib).Where(f => f.EndsWith(".so", StringComparison.Ordinal) || Path.GetFileName(f) == "fractal-agent"))
        {
            var header = (await Command.RunAsync("readelf", "-h", file)).EnsureSuccess();
            Assert.Contains(machine, header.StandardOutput, StringComparison.Ordinal);
        }
    }
}
