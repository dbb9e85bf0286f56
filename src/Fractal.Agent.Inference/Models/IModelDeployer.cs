namespace Fractal.Agent.Inference.Models;

/// <summary>
/// Deploys model versions to the node: validates, stages under
/// <see cref="InferenceOptions.ModelDirectory"/>, activates, and remembers the choice across restarts.
/// </summary>
public interface IModelDeployer
{
    /// <summary>Validates and activates a version, then stages it on disk as the active one.</summary>
    /// <param name="version">Version identifier (letters, digits, '.', '_', '-').</param>
    /// <param name="specJson">The model spec as JSON.</param>
    /// <param name="onnxModel">The ONNX inference model.</param>
    /// <exception cref="ModelRejectedException">The spec or model is invalid; the active model keeps serving and nothing is staged.</exception>
    ModelVersionInfo Deploy(string version, string specJson, byte[] onnxModel);

    /// <summary>Swaps back to the previous version and records that on disk.</summary>
    ModelVersionInfo Rollback();

    /// <summary>Loads the versions the pointer files name (previous first, then active).</summary>
    void LoadStaged();
}
