namespace Fractal.Agent.Sync.Identity;

/// <summary>Where the agent keeps its state and who it is.</summary>
public sealed class AgentOptions
{
    public const string SectionName = "Agent";

    /// <summary>
    /// State directory (buffer, identity). Under systemd the unit's StateDirectory is passed in
    /// STATE_DIRECTORY and used when this is empty.
    /// <value>The default value is empty: STATE_DIRECTORY, else <c>./data/agent</c>.</value>
    /// </summary>
    public string StateDirectory { get; set; } = string.Empty;

    /// <summary>
    /// The node's id. Empty: a random id generated once and kept in the state directory
    /// (<c>node-id</c>), so it survives restarts and package upgrades.
    /// <value>The default value is empty.</value>
    /// </summary>
    public string NodeId { get; set; } = string.Empty;
}
