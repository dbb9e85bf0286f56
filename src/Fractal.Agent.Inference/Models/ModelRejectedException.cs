namespace Fractal.Agent.Inference.Models;

/// <summary>
/// A model version was refused: not loadable ONNX, or inputs and outputs that do not match its
/// spec. The active model is untouched and keeps serving.
/// </summary>
public sealed class ModelRejectedException : Exception
{
    public ModelRejectedException()
    {
    }

    public ModelRejectedException(string message)
        : base(message)
    {
    }

    public ModelRejectedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The rejected version, when known.</summary>
    public string? Version { get; init; }
}
