using System.Globalization;
using Fractal.Agent.Inference.Models;
using Fractal.Learning.Onnx;
using Fractal.Learning.Specs;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Inference.Tests;

/// <summary>Tiny real ONNX models whose answer identifies them: model k always predicts class k.</summary>
internal static class TestModels
{
    public const int Inputs = 4;
    public const int Classes = 3;

    public static string SpecJson(int inputs = Inputs, int classes = Classes) => string.Create(
        CultureInfo.InvariantCulture,
        $$"""{"schemaVersion":1,"name":"tiny","input":{"shape":[{{inputs}}]},"layers":[{"type":"dense","units":{{classes}}}],"head":"softmax"}""");

    public static ModelSpec Spec(int inputs = Inputs, int classes = Classes) => ModelSpec.Parse(SpecJson(inputs, classes));

    /// <summary>An ONNX model that answers <paramref name="favoured"/> with high confidence for any input.</summary>
    public static byte[] Onnx(int favoured, int inputs = Inputs, int classes = Classes)
    {
        var spec = Spec(inputs, classes);
        var parameters = ModelParameters.Zeros(spec);
        parameters["layers.0.bias"].Data[favoured] = 5f;
        return InferenceModelBuilder.Build(spec, parameters);
    }

    /// <summary>An ONNX model with seeded random weights, whose answer depends on its input.</summary>
    public static byte[] RandomOnnx(int seed, int inputs = Inputs, int classes = Classes)
    {
        var spec = Spec(inputs, classes);
        return InferenceModelBuilder.Build(spec, ModelParameters.Initialize(spec, seed));
    }

    public static ModelRuntime Runtime(string? directory = null) =>
        new(Options.Create(new InferenceOptions { ModelDirectory = directory ?? Path.GetTempPath() }), NullLogger<ModelRuntime>.Instance);

    public static Prediction Predict(IModelRuntime runtime) => runtime.Predict(new float[Inputs], new float[Classes]);
}

/// <summary>A fresh directory per test.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "fractal-tests", $"inference-{Guid.NewGuid():N}");

    public TempDirectory() => Directory.CreateDirectory(Path);

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
