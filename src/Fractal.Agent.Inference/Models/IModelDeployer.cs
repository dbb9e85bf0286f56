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

    /// <summary>
    /// Like <see cref="Deploy"/>, but only while <paramref name="expectedActive"/> is still the
    /// active version: a model derived from one version must not replace a newer one deployed
    /// meanwhile. Returns null, deploying nothing, when another version is active.
    /// </summary>
    /// <exception cref="ModelRejectedException">The spec or model is invalid; the active model keeps serving and nothing is staged.</exception>
    ModelVersionInfo? DeployReplacing(string expectedActive, string version, string specJson, byte[] onnxModel);

    /// <summary>The active version as staged on disk (its spec and ONNX model), or null when none is active.</summary>
    /// <exception cref="IOException">The active version's staged files cannot be read.</exception>
    StagedModel? ReadActive();

    /// <summary>Swaps back to the previous version and records that on disk.</summary>
    ModelVersionInfo Rollback();

    /// <summary>Loads the versions the pointer files name (previous first, then active).</summary>
    void LoadStaged();
}

/// <summary>A staged model version as read back from disk.</summary>
/// <param name="Version">The version.</param>
/// <param name="Spec">Its model spec.</param>
/// <param name="OnnxModel">Its ONNX inference model.</param>
public sealed record StagedModel(string Version, Fractal.Learning.Specs.ModelSpec Spec, byte[] OnnxModel);
