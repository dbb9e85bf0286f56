namespace Fractal.Testing;

/// <summary>A fresh directory per test, removed on dispose.</summary>
public sealed class TestDirectory : IDisposable
{
    public TestDirectory(string? hint = null)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "fractal-tests", $"{hint ?? "t"}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A child process may still hold a file for a moment; the OS temp cleaner takes the rest.
        }
    }
}
