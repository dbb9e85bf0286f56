namespace Fractal.Learning.Tests;

/// <summary>Runs the reference ONNX checker (Debian python3-onnx) on a serialized model.</summary>
internal static class OnnxChecker
{
    internal const string Script = "import onnx, sys\nm = onnx.load(sys.argv[1])\nonnx.checker.check_model(m, full_check=True)\nprint('ok opset', m.opset_import[0].version)\n";

    /// <summary>Returns the checker's exit code and output; exit code 0 means the model is valid.</summary>
    public static async Task<(int ExitCode, string Output)> CheckAsync(byte[] model)
    {
        var directory = Directory.CreateTempSubdirectory("fractal-onnx-check-");
        try
        {
            var path = Path.Combine(directory.FullName, "model.onnx");
            await File.WriteAllBytesAsync(path, model);
            var (exitCode, output, error) = await ReferencePython.RunAsync(["-c", Script, path], TimeSpan.FromMinutes(1));
            return (exitCode, output + error);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    public static async Task AssertValidAsync(byte[] model)
    {
        var (exitCode, output) = await CheckAsync(model);
        Assert.True(exitCode == 0, $"onnx.checker rejected the model: {output}");
        Assert.Contains("ok opset 17", output, StringComparison.Ordinal);
    }
}
