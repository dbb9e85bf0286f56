namespace Fractal.Learning.Onnx;

/// <summary>An ONNX model is corrupt or does not hold the tensors a model spec expects.</summary>
public sealed class OnnxModelException : Exception
{
    public OnnxModelException()
    {
    }

    public OnnxModelException(string message)
        : base(message)
    {
    }

    public OnnxModelException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
