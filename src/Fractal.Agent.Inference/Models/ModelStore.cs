using System.Buffers;
using Fractal.Learning.Specs;

namespace Fractal.Agent.Inference.Models;

/// <summary>
/// Staged model versions on disk: <c>{dir}/{version}/model.onnx</c> and <c>spec.json</c>, plus
/// the <c>active</c> and <c>previous</c> pointer files so a restarted agent serves what it
/// served before. Pointers are replaced by rename, so a crash leaves the old or the new one.
/// </summary>
internal sealed class ModelStore(string directory)
{
    public const string ModelFileName = "model.onnx";
    public const string SpecFileName = "spec.json";
    public const string ActivePointer = "active";
    public const string PreviousPointer = "previous";

    internal static readonly SearchValues<char> VersionChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

    public string Directory { get; } = directory;

    /// <summary>Versions name directories, so only a safe alphabet is allowed.</summary>
    public static void ValidateVersion(string version)
    {
        ArgumentNullException.ThrowIfNull(version);
        if (version.Length is 0 or > 128 || version.AsSpan().ContainsAnyExcept(VersionChars) || version is "." or "..")
        {
            throw new ArgumentException($"Model version '{version}' must be 1-128 characters of letters, digits, '.', '_' or '-'.", nameof(version));
        }
    }

    public void Stage(string version, string specJson, byte[] onnxModel)
    {
        ValidateVersion(version);
        var target = Path.Combine(Directory, version);
        var staging = Path.Combine(Directory, $".{version}.{Guid.NewGuid():N}.tmp");
        System.IO.Directory.CreateDirectory(staging);
        File.WriteAllBytes(Path.Combine(staging, ModelFileName), onnxModel);
        File.WriteAllText(Path.Combine(staging, SpecFileName), specJson);
        if (System.IO.Directory.Exists(target))
        {
            System.IO.Directory.Delete(target, recursive: true);
        }

        System.IO.Directory.Move(staging, target);
    }

    public (ModelSpec Spec, byte[] Model) Load(string version)
    {
        ValidateVersion(version);
        var folder = Path.Combine(Directory, version);
        var spec = ModelSpec.Parse(File.ReadAllText(Path.Combine(folder, SpecFileName)));
        return (spec, File.ReadAllBytes(Path.Combine(folder, ModelFileName)));
    }

    public string? ReadPointer(string name)
    {
        var path = Path.Combine(Directory, name);
        if (!File.Exists(path))
        {
            return null;
        }

        var version = File.ReadAllText(path).Trim();
        return version.Length == 0 ? null : version;
    }

    public void WritePointers(string? active, string? previous)
    {
        WritePointer(ActivePointer, active);
        WritePointer(PreviousPointer, previous);
    }

    private void WritePointer(string name, string? version)
    {
        var path = Path.Combine(Directory, name);
        if (version is null)
        {
            File.Delete(path);
            return;
        }

        var temp = path + ".tmp";
        File.WriteAllText(temp, version);
        File.Move(temp, path, overwrite: true);
    }
}
