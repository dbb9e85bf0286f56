namespace Fractal.Testing;

/// <summary>Names with a unique suffix (topics, buckets, streams) so tests never share state.</summary>
public static class Unique
{
    public static string Name(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";
}
