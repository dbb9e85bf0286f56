using Fractal.Agent.Sync.Buffer;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync.Identity;

/// <summary>The node's stable identity and state directory, resolved once at start-up.</summary>
public sealed class NodeIdentity
{
    private const string NodeIdFile = "node-id";

    public NodeIdentity(IOptions<AgentOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var configured = options.Value.StateDirectory;
        if (string.IsNullOrWhiteSpace(configured))
        {
            // systemd may pass several ':'-separated directories; the first is ours.
            configured = Environment.GetEnvironmentVariable("STATE_DIRECTORY")?.Split(':')[0];
        }

        StateDirectory = Path.GetFullPath(string.IsNullOrWhiteSpace(configured) ? Path.Combine("data", "agent") : configured);
        try
        {
            Directory.CreateDirectory(StateDirectory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ConfigurationValueException($"{AgentOptions.SectionName}:StateDirectory", StateDirectory, $"cannot create the state directory ({ex.Message})");
        }

        NodeId = string.IsNullOrWhiteSpace(options.Value.NodeId) ? LoadOrCreateNodeId(StateDirectory) : options.Value.NodeId;
        if (!StreamCatalog.IsValidName(NodeId))
        {
            throw new ConfigurationValueException($"{AgentOptions.SectionName}:NodeId", NodeId, "a node id is 1-64 characters of letters, digits, '.', '_' and '-'");
        }
    }

    public string NodeId { get; }

    public string StateDirectory { get; }

    /// <summary>Resolves a path relative to the state directory.</summary>
    public string ResolvePath(string path) => Path.IsPathRooted(path) ? path : Path.Combine(StateDirectory, path);

    private static string LoadOrCreateNodeId(string directory)
    {
        var file = Path.Combine(directory, NodeIdFile);
        if (File.Exists(file))
        {
            return File.ReadAllText(file).Trim();
        }

        var id = "node-" + Guid.NewGuid().ToString("N")[..12];
        // Write-then-rename so a power cut never leaves an empty identity behind.
        var temp = file + ".tmp";
        File.WriteAllText(temp, id + "\n");
        File.Move(temp, file, overwrite: true);
        return id;
    }
}
