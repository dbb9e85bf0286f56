using System.Globalization;
using System.Text;
using Fractal.Testing;
using MQTTnet;
using MQTTnet.Protocol;

namespace Fractal.Packaging.Tests;

/// <summary>
/// The package's life on this machine, in order: install, run the installed agent (READY,
/// watchdog, SIGTERM with the buffer intact, broken configuration), upgrade, remove, purge.
/// Each step builds on the state the previous one left.
/// </summary>
[Collection(PackageTestGroup.Name)]
[TestCaseOrderer(StepOrderer.TypeName, StepOrderer.AssemblyName)]
public sealed partial class LifecycleTests(PackagesFixture packages)
{
    private const string NodeIdFile = "/var/lib/fractal/node-id";
    private const string BufferFile = "/var/lib/fractal/buffer.db";
    private const string EnabledLink = "/etc/systemd/system/multi-user.target.wants/fractal-agent.service";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);
    // Long enough that a loaded CI machine delaying a timer tick by a second stays inside the
    // bounds, short enough to keep the test quick (pings every 2 s).
    private static readonly TimeSpan Watchdog = TimeSpan.FromSeconds(4);

    [Fact]
    [Step(1)]
    public async Task Install_FreshMachine_CreatesUserStateDirectoryAndEnablesUnit()
    {
        packages.EnsureReady();
        await PackagesFixture.PurgeIfInstalledAsync();
        (await Command.RunAsync("dpkg", "-i", packages.AmdFirst)).EnsureSuccess();

        Assert.Equal(PackagesFixture.First, await PackagesFixture.InstalledVersionAsync());
        var user = (await Command.RunAsync("getent", "passwd", "fractal")).EnsureSuccess().StandardOutput.Trim().Split(':');
        Assert.Equal("/var/lib/fractal", user[5]);
        Assert.Equal("/usr/sbin/nologin", user[6]);
        Assert.True(int.Parse(user[2], CultureInfo.InvariantCulture) < 1000, "a system uid");

        Assert.Equal("fractal:fractal 750", await StatAsync("/var/lib/fractal"));
        Assert.Equal("root:fractal 640", await StatAsync(InstalledAgent.ConfigFile));
        Assert.Equal("root:root 755", await StatAsync(InstalledAgent.Executable));
        Assert.Equal("/lib/systemd/system/fractal-agent.service", new FileInfo(EnabledLink).LinkTarget);

        // With the executable in place, the unit verifies clean.
        var verify = await Command.RunAsync("systemd-analyze", ["verify", "--man=no", "--generators=no", "/lib/systemd/system/fractal-agent.service"], TimeSpan.FromMinutes(1));
        Assert.True(verify.ExitCode == 0 && verify.StandardOutput.Trim().Length == 0 && verify.StandardError.Trim().Length == 0,
            $"systemd-analyze verify ({verify.ExitCode}):\n{verify.StandardOutput}{verify.StandardError}");
    }

    [Fact]
    [Step(2)]
    public async Task InstalledAgent_Started_ReportsReadyAndPingsWatchdogAtHalfTheInterval()
    {
        packages.EnsureReady();
        using var dir = new TestDirectory("notify");
        await using var notify = new NotifySocket(dir.Combine("notify.sock"));
        await using var agent = InstalledAgent.Start(notify.Path, Watchdog, FreePort.Next(), FreePort.Next());

        await notify.WaitForAsync("READY=1", ReadyTimeout);
        var pings = new List<Notification>();
        for (var i = 0; i < 4; i++)
        {
            pings.Add(await notify.WaitForAsync("WATCHDOG=1", Watchdog * 4));
        }

        // systemd kills a service whose pings are WatchdogSec apart; the agent pings at half of it.
        var gaps = pings.Zip(pings.Skip(1), (a, b) => b.At - a.At).ToList();
        Assert.All(gaps, gap => Assert.InRange(gap, Watchdog / 4, Watchdog * 0.9));

        Assert.Equal(0, await agent.TerminateAsync(TimeSpan.FromSeconds(30)));
        Assert.True(File.Exists(NodeIdFile), "the agent stores its node id in the state directory");
        Assert.Equal("fractal:fractal", (await StatAsync(NodeIdFile))[..15]);
    }

    [Fact]
    [Step(3)]
    public async Task InstalledAgent_SigtermAfterIngest_StopsCleanlyWithBufferIntact()
    {
        packages.EnsureReady();
        var nodeId = await File.ReadAllTextAsync(NodeIdFile);
        using var dir = new TestDirectory("notify");
        await using (var notify = new NotifySocket(dir.Combine("notify.sock")))
        await using (var agent = InstalledAgent.Start(notify.Path, Watchdog, FreePort.Next(), FreePort.Next()))
        {
            await notify.WaitForAsync("READY=1", ReadyTimeout);
            await PublishReadingAsync(agent.MqttPort, "pkgtest", 3);
            Assert.Equal(3, await agent.WaitForMetricAsync("fractal_buffered_records", 3, TimeSpan.FromSeconds(15)));

            Assert.Equal(0, await agent.TerminateAsync(TimeSpan.FromSeconds(30)));
            await notify.WaitForAsync("STOPPING=1", TimeSpan.FromSeconds(5));
        }

        // Started again: the same identity, the same three readings.
        Assert.Equal(nodeId, await File.ReadAllTextAsync(NodeIdFile));
        Assert.Equal(3, await CountBufferedAfterRestartAsync());
    }

    [Fact]
    [Step(5)]
    public async Task InstalledAgent_BrokenAgentJson_Exits78NamingTheFileOrKey()
    {
        packages.EnsureReady();
        var original = await File.ReadAllBytesAsync(InstalledAgent.ConfigFile);
        try
        {
            await File.WriteAllTextAsync(InstalledAgent.ConfigFile, "{\n  // an operator's half-finished edit\n  \"Metrics\": { \"Port\": \n");
            var (code, stderr) = await RunToExitAsync();
            Assert.Equal(78, code);
            Assert.Contains("agent.json", stderr, StringComparison.Ordinal);

            await File.WriteAllTextAsync(InstalledAgent.ConfigFile, "{ \"Buffer\": { \"QuotaBytes\": 10 } }\n");
            (code, stderr) = await RunToExitAsync();
            Assert.Equal(78, code);
            Assert.Contains("Buffer:QuotaBytes='10'", stderr, StringComparison.Ordinal);
        }
        finally
        {
            // The same bytes: dpkg sees an unmodified conffile again.
            await File.WriteAllBytesAsync(InstalledAgent.ConfigFile, original);
        }
    }

    [Fact]
    [Step(6)]
    public async Task Upgrade_ToNextVersion_KeepsBufferIdentityAndOperatorEdits()
    {
        packages.EnsureReady();
        var nodeId = await File.ReadAllTextAsync(NodeIdFile);
        var edit = $"// operator's note {Guid.NewGuid():N}\n";
        var original = await File.ReadAllTextAsync(InstalledAgent.ConfigFile);
        await File.WriteAllTextAsync(InstalledAgent.ConfigFile, edit + original);

        (await Command.RunAsync("dpkg", "-i", packages.AmdSecond)).EnsureSuccess();

        Assert.Equal(PackagesFixture.Second, await PackagesFixture.InstalledVersionAsync());
        Assert.StartsWith(edit, await File.ReadAllTextAsync(InstalledAgent.ConfigFile), StringComparison.Ordinal);
        Assert.Equal("root:fractal 640", await StatAsync(InstalledAgent.ConfigFile));
        Assert.Equal(nodeId, await File.ReadAllTextAsync(NodeIdFile));
        Assert.Equal(3, await CountBufferedAfterRestartAsync());
    }

    [Fact]
    [Step(7)]
    public async Task Remove_Installed_KeepsConfigurationStateAndUser()
    {
        packages.EnsureReady();
        (await Command.RunAsync("dpkg", "-r", PackagesFixture.PackageName)).EnsureSuccess();

        Assert.Null(await PackagesFixture.InstalledVersionAsync());
        Assert.False(File.Exists(InstalledAgent.Executable));
        Assert.False(Directory.Exists("/usr/lib/fractal-agent"));
        Assert.False(File.Exists("/lib/systemd/system/fractal-agent.service"));
        Assert.True(File.Exists(InstalledAgent.ConfigFile), "remove keeps the conffile");
        Assert.True(File.Exists(NodeIdFile), "remove keeps the node identity");
        Assert.True(File.Exists(BufferFile), "remove keeps the buffered readings");
        Assert.Equal(0, (await Command.RunAsync("getent", "passwd", "fractal")).ExitCode);
    }

    [Fact]
    [Step(8)]
    public async Task Purge_Removed_LeavesNothingBehind()
    {
        packages.EnsureReady();
        (await Command.RunAsync("dpkg", "-P", PackagesFixture.PackageName)).EnsureSuccess();

        var status = await Command.RunAsync("dpkg-query", "-W", "-f=${db:Status-Abbrev}", PackagesFixture.PackageName);
        Assert.True(status.ExitCode != 0 || status.StandardOutput.StartsWith("un", StringComparison.Ordinal), status.StandardOutput);
        Assert.False(Directory.Exists("/etc/fractal"));
        Assert.False(Directory.Exists("/var/lib/fractal"));
        Assert.False(File.Exists(EnabledLink) || new FileInfo(EnabledLink).LinkTarget is not null);
        Assert.False(File.Exists("/var/lib/systemd/deb-systemd-helper-enabled/fractal-agent.service.dsh-also"));
        Assert.False(File.Exists("/var/lib/systemd/deb-systemd-helper-masked/fractal-agent.service"));
        Assert.NotEqual(0, (await Command.RunAsync("getent", "passwd", "fractal")).ExitCode);
        Assert.NotEqual(0, (await Command.RunAsync("getent", "group", "fractal")).ExitCode);
    }

    private static async Task<string> StatAsync(string path)
        => (await Command.RunAsync("stat", "-c", "%U:%G %a", path)).EnsureSuccess().StandardOutput.Trim();

    private static async Task PublishReadingAsync(int port, string stream, int count)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer("127.0.0.1", port).WithClientId(Unique.Name("pkgtest")).Build());
        for (var i = 0; i < count; i++)
        {
            // QoS 1: the PUBACK comes only after the reading is committed to the buffer.
            var result = await client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic($"fractal/sensors/{stream}")
                .WithPayload(Encoding.UTF8.GetBytes($"{{\"values\":[{i}.5, 2.0], \"id\":\"pkg-{i}\"}}"))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build());
            Assert.True(result.IsSuccess, result.ReasonString);
        }

        await client.DisconnectAsync();
    }

    private static async Task<double?> CountBufferedAfterRestartAsync()
    {
        using var dir = new TestDirectory("notify");
        await using var notify = new NotifySocket(dir.Combine("notify.sock"));
        await using var agent = InstalledAgent.Start(notify.Path, Watchdog, FreePort.Next(), FreePort.Next());
        await notify.WaitForAsync("READY=1", ReadyTimeout);
        var count = await agent.WaitForMetricAsync("fractal_buffered_records", 3, TimeSpan.FromSeconds(15));
        Assert.Equal(0, await agent.TerminateAsync(TimeSpan.FromSeconds(30)));
        return count;
    }

    private static async Task<(int Code, string StandardError)> RunToExitAsync()
    {
        using var dir = new TestDirectory("notify");
        await using var notify = new NotifySocket(dir.Combine("notify.sock"));
        await using var agent = InstalledAgent.Start(notify.Path, Watchdog, FreePort.Next(), FreePort.Next());
        var code = await agent.WaitForExitAsync(TimeSpan.FromSeconds(30));
        return (code, agent.StandardError);
    }
}
