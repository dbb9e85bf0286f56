using Fractal.Testing.Processes;

namespace Fractal.Benchmarks;

/// <summary>Starts the agent as its own process, as <c>--agent PATH</c> names it.</summary>
internal static class PublishedAgent
{
    /// <summary>
    /// A .dll runs on the JIT runtime (<c>dotnet fractal-agent.dll</c>); anything else is an
    /// executable, such as the packaged Native AOT build.
    /// </summary>
    /// <param name="niceness">The scheduling niceness to run it at (0, as the systemd unit starts it).</param>
    public static ChildProcess Start(string agent, IEnumerable<string> arguments, IDictionary<string, string>? environment = null, int niceness = 0)
        => agent.EndsWith(".dll", StringComparison.Ordinal)
            ? ChildProcess.StartDotnet(agent, arguments, environment, niceness)
            : ChildProcess.Start(agent, arguments, environment, niceness);

    /// <summary>What the agent printed, on the benchmark's error stream (the progress log).</summary>
    public static void EchoOutput(ChildProcess agent)
    {
        foreach (var line in agent.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            Console.Error.WriteLine($"  agent: {line}");
        }
    }
}
