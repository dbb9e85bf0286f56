using Fractal.Testing;
using Fractal.Testing.Processes;

namespace Fractal.SystemTests;

/// <summary>Bad configuration: the real agent process exits 78 (EX_CONFIG) with a message naming the key and value.</summary>
public sealed class AgentConfigurationTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly TestDirectory _dir = new("agent-config");

    public void Dispose() => _dir.Dispose();

    private async Task<ChildProcess> RunAgentAsync(string configJson, params string[] args)
    {
        var config = _dir.Combine("agent.json");
        await File.WriteAllTextAsync(config, configJson);
        var agent = ChildProcess.StartDotnet(
            RepositoryPaths.Program("Fractal.Agent", "fractal-agent"),
            [$"--Agent:StateDirectory={_dir.Combine("state")}", "--Metrics:Port=0", $"--Mqtt:EmbeddedPort={FreePort.Next()}", .. args],
            new Dictionary<string, string> { ["FRACTAL_CONFIG"] = config });
        await agent.WaitForExitAsync(Patience);
        return agent;
    }

    [Theory]
    [InlineData("--Buffer:QuotaBytes=5", "Buffer:QuotaBytes='5'")]
    [InlineData("--Mqtt:EmbeddedPort=abc", "'Mqtt:EmbeddedPort'")]
    [InlineData("--Uplinks:Hub:Enabled=maybe", "Uplinks:Hub:Enabled='maybe'")]
    [InlineData("--Streams:bad name!:Priority=1", "Streams:bad name!")]
    [InlineData("--Streams:s:Priority=100000", "Streams:s:Priority='100000'")]
    [InlineData("--Agent:NodeId=../../etc", "Agent:NodeId='../../etc'")]
    [InlineData("--Inference:PredictionQueueCapacity=0", "Inference:PredictionQueueCapacity='0'")]
    [InlineData("--Streams:camera:Inference=perhaps", "Streams:camera:Inference")]
    public async Task Start_InvalidValue_Exits78NamingKeyAndValue(string argument, string expected)
    {
        await using var agent = await RunAgentAsync("{}", argument);

        Assert.Equal(78, agent.ExitCode);
        Assert.Contains(expected, agent.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_BrokenAgentJson_Exits78NamingTheFile()
    {
        await using var agent = await RunAgentAsync("{ \"Buffer\": { \"QuotaBytes\": 1000000, ");

        Assert.Equal(78, agent.ExitCode);
        Assert.Contains("agent.json", agent.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_CommentedAgentJson_IsAccepted()
    {
        // The shipped conffile documents its defaults in comments; it must parse.
        var config = _dir.Combine("agent.json");
        await File.WriteAllTextAsync(config, "{\n  // buffer quota in bytes\n  \"Buffer\": { \"QuotaBytes\": 1048576 }\n}\n");
        await using var agent = ChildProcess.StartDotnet(
            RepositoryPaths.Program("Fractal.Agent", "fractal-agent"),
            [$"--Agent:StateDirectory={_dir.Combine("state")}", "--Metrics:Port=0", $"--Mqtt:EmbeddedPort={FreePort.Next()}"],
            new Dictionary<string, string> { ["FRACTAL_CONFIG"] = config });

        await agent.WaitForLineAsync("Embedded MQTT server listening", Patience);
        Assert.Equal(0, await agent.StopAsync(Patience));
    }
}
