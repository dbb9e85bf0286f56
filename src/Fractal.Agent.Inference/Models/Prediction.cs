namespace Fractal.Agent.Inference.Models;

/// <summary>The outcome of one inference request.</summary>
/// <param name="ModelVersion">The version that served the request.</param>
/// <param name="Label">The most probable class.</param>
/// <param name="Confidence">Its probability.</param>
public readonly record struct Prediction(string ModelVersion, int Label, float Confidence);

/// <summary>A loaded model version as reported in status and inventory.</summary>
/// <param name="Version">Version identifier.</param>
/// <param name="ModelName">The spec's name.</param>
/// <param name="InputSize">Values per sample.</param>
/// <param name="ClassCount">Classes.</param>
public sealed record ModelVersionInfo(string Version, string ModelName, int InputSize, int ClassCount);
