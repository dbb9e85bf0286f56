namespace Fractal.Learning.Data;

/// <summary>
/// An IDX file is malformed, truncated or declares a size the reader refuses to allocate.
/// The message names the file and what is wrong with it.
/// </summary>
public sealed class IdxFormatException : IOException
{
    public IdxFormatException()
    {
    }

    public IdxFormatException(string message)
        : base(message)
    {
    }

    public IdxFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public IdxFormatException(string fileName, string problem)
        : base($"IDX file '{fileName}': {problem}")
    {
        FileName = fileName;
    }

    public IdxFormatException(string fileName, string problem, Exception innerException)
        : base($"IDX file '{fileName}': {problem}", innerException)
    {
        FileName = fileName;
    }

    /// <summary>The file (or stream name) that failed to parse.</summary>
    public string? FileName { get; }
}
