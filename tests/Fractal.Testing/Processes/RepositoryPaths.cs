using System.Reflection;

namespace Fractal.Testing.Processes;

/// <summary>Finds the repository and the built programs that system tests run as real processes.</summary>
public static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>The build configuration of the running test assembly (Debug/Release), used for the programs too.</summary>
    public static string Configuration { get; } =
        Assembly.GetExecutingAssembly().GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    /// <summary>Path of a built program's dll, e.g. <c>Program("Fractal.Agent", "fractal-agent")</c>.</summary>
    public static string Program(string project, string assemblyName)
    {
        var path = Path.Combine(Root, "src", project, "bin", Configuration, "net10.0", assemblyName + ".dll");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"{path} is not built; build the solution ({Configuration}) before the system tests.", path);
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Fractal.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"No Fractal.sln above {AppContext.BaseDirectory}.");
    }
}
