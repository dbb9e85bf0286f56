namespace Fractal.Learning.Specs;

/// <summary>The example specs shipped in the assembly (Specs/Examples/*.json).</summary>
public static class ModelSpecs
{
    /// <summary>Resource name of the MLP spec.</summary>
    public const string MlpResource = "mlp-784-200-200-10.json";

    /// <summary>Resource name of the simple CNN spec.</summary>
    public const string SimpleCnnResource = "cnn-niid-simple.json";

    /// <summary>Multilayer perceptron 784-200-200-10 with ReLUs (the FedAvg paper's "2NN") for 28x28 images.</summary>
    public static ModelSpec Mlp() => Load(MlpResource);

    /// <summary>
    /// NIID-Bench's simple CNN for 28x28x1 images: conv 6@5x5, ReLU, maxpool 2, conv 16@5x5, ReLU,
    /// maxpool 2, dense 120, ReLU, dense 84, ReLU, dense 10.
    /// </summary>
    public static ModelSpec SimpleCnn() => Load(SimpleCnnResource);

    /// <summary>The JSON text of an example spec by file name.</summary>
    public static string ReadJson(string fileName)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        using var stream = typeof(ModelSpecs).Assembly.GetManifestResourceStream("Fractal.Learning.Specs.Examples." + fileName)
            ?? throw new ArgumentException($"No example spec named '{fileName}'.", nameof(fileName));
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static ModelSpec Load(string fileName) => ModelSpec.Parse(ReadJson(fileName));
}
