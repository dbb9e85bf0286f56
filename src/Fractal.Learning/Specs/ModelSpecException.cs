namespace Fractal.Learning.Specs;

/// <summary>
/// A model spec is malformed, hostile or inconsistent. <see cref="Exception.Message"/> names the
/// offending field or layer (for example <c>layers[3].kernel</c>) and the value that was rejected.
/// </summary>
public sealed class ModelSpecException : Exception
{
    public ModelSpecException()
    {
    }

    public ModelSpecException(string message)
        : base(message)
    {
    }

    public ModelSpecException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception for the JSON path <paramref name="path"/>.</summary>
    public ModelSpecException(string path, string message, Exception? innerException = null)
        : base($"Invalid model spec at '{path}': {message}", innerException)
    {
        Path = path;
    }

    /// <summary>The JSON path of the offending field (for example <c>layers[3].kernel</c>), if known.</summary>
    public string? Path { get; }
}
