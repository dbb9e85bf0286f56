using Fractal.Learning.Specs;

namespace Fractal.Learning.Tests.Specs;

public sealed class ModelSpecTests
{
    private const string Valid = """
        {
          "schemaVersion": 1,
          "name": "t",
          "input": { "shape": [64], "reshape": [1, 8, 8] },
          "layers": [
            { "type": "conv2d", "filters": 2, "kernel": 3 },
            { "type": "relu" },
            { "type": "flatten" },
            { "type": "dense", "units": 3 }
          ]
        }
        """;

    [Fact]
    public void Mlp_ExampleSpec_HasExpectedShapesAndParameterCount()
    {
        var spec = ModelSpecs.Mlp();

        Assert.Equal("mlp-784-200-200-10", spec.Name);
        Assert.Equal(784, spec.InputSize);
        Assert.Equal(10, spec.ClassCount);
        Assert.Equal(
            ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias", "layers.4.weight", "layers.4.bias"],
            spec.Parameters.Select(p => p.Name));
        Assert.Equal([200, 784], spec.Parameters[0].Shape);
        Assert.Equal((784 * 200) + 200 + (200 * 200) + 200 + (200 * 10) + 10, spec.ParameterElementCount);
    }

    [Fact]
    public void SimpleCnn_ExampleSpec_HasNiidBenchShapes()
    {
        var spec = ModelSpecs.SimpleCnn();

        Assert.Equal([1, 28, 28], spec.ActivationShape(0));
        Assert.Equal([6, 24, 24], spec.ActivationShape(1));
        Assert.Equal([6, 12, 12], spec.ActivationShape(3));
        Assert.Equal([16, 8, 8], spec.ActivationShape(4));
        Assert.Equal([16, 4, 4], spec.ActivationShape(6));
        Assert.Equal([256], spec.ActivationShape(7));
        Assert.Equal([120], spec.ActivationShape(8));
        Assert.Equal([84], spec.ActivationShape(10));
        Assert.Equal([10], spec.ActivationShape(12));
        Assert.Equal([16, 6, 5, 5], spec.Parameters[2].Shape);

        // conv1 156 + conv2 2416 + fc1 30840 + fc2 10164 + fc3 850 (NIID-Bench's SimpleCNN for MNIST-like data).
        Assert.Equal(44426, spec.ParameterElementCount);
    }

    [Theory]
    [InlineData(ModelSpecs.MlpResource)]
    [InlineData(ModelSpecs.SimpleCnnResource)]
    public void ToJson_ExampleSpecs_RoundTripsToSameSpec(string resource)
    {
        var spec = ModelSpec.Parse(ModelSpecs.ReadJson(resource));

        var json = spec.ToJson();
        var reparsed = ModelSpec.Parse(json);

        Assert.Equal(json, reparsed.ToJson());
        Assert.Equal(spec.Layers, reparsed.Layers);
        Assert.Equal(spec.Input.Scale, reparsed.Input.Scale);
        Assert.Equal(spec.Input.Reshape, reparsed.Input.Reshape);
    }

    [Fact]
    public void Parse_ValidSpecWithDefaults_FillsDefaults()
    {
        var spec = ModelSpec.Parse(Valid);

        var conv = Assert.IsType<Conv2DLayer>(spec.Layers[0]);
        Assert.Equal(new Conv2DLayer(2, 3, 1, 0), conv);
        Assert.Equal(1f, spec.Input.Scale);
        Assert.Equal(ModelSpec.SoftmaxHead, spec.Head);
        Assert.Equal([2, 6, 6], spec.ActivationShape(1));
    }

    [Theory]
    [InlineData("not json", "'$'")]
    [InlineData("[1, 2]", "'$'")]
    [InlineData("""{"schemaVersion": 2, "name": "t", "input": {"shape": [4]}, "layers": [{"type": "dense", "units": 2}]}""", "'schemaVersion'")]
    [InlineData("""{"name": "t", "input": {"shape": [4]}, "layers": [{"type": "dense", "units": 2}]}""", "'schemaVersion'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [4]}}""", "'layers'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [4]}, "layers": []}""", "'layers'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [4]}, "layers": [{"type": "dense", "units": -3}]}""", "'layers[0].units'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [4]}, "layers": [{"type": "dense", "units": 1e12}]}""", "'layers[0].units'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [4]}, "layers": [{"type": "dense", "units": 2.5}]}""", "'layers[0].units'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [4]}, "layers": [{"type": "dense", "units": "2"}]}""", "'layers[0].units'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [4]}, "layers": [{"type": "relu"}, {"type": "lstm", "units": 2}]}""", "'layers[1].type'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [4]}, "layers": [{"type": "dense", "units": 2, "activation": "relu"}]}""", "'layers[0].activation'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [4]}, "layers": [{"type": "dense", "units": 2, "units": 3}]}""", "'layers[0].units'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [-4]}, "layers": [{"type": "dense", "units": 2}]}""", "'input.shape[0]'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [4], "reshape": [1, 3, 3]}, "layers": [{"type": "flatten"}, {"type": "dense", "units": 2}]}""", "'input.reshape'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [4], "scale": 0}, "layers": [{"type": "dense", "units": 2}]}""", "'input.scale'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [16]}, "layers": [{"type": "conv2d", "filters": 2, "kernel": 3}, {"type": "flatten"}, {"type": "dense", "units": 2}]}""", "'layers[0]'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [1, 4, 4]}, "layers": [{"type": "conv2d", "filters": 2, "kernel": 5}, {"type": "flatten"}, {"type": "dense", "units": 2}]}""", "'layers[0]'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [1, 4, 4]}, "layers": [{"type": "conv2d", "filters": 2, "kernel": 3}, {"type": "dense", "units": 2}]}""", "'layers[1]'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [1, 4, 4]}, "layers": [{"type": "conv2d", "filters": 2, "kernel": 3, "padding": 3}, {"type": "flatten"}, {"type": "dense", "units": 2}]}""", "'layers[0].padding'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [4]}, "layers": [{"type": "dense", "units": 2}, {"type": "relu"}]}""", "'layers[1]'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [4]}, "layers": [{"type": "dense", "units": 1}]}""", "'layers[0].units'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [4]}, "layers": [{"type": "dropout", "rate": 1}, {"type": "dense", "units": 2}]}""", "'layers[0].rate'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [65536]}, "layers": [{"type": "dense", "units": 65536}, {"type": "dense", "units": 2}]}""", "'layers[0]'")]
    [InlineData("""{"schemaVersion": 1, "name": "t", "input": {"shape": [4]}, "layers": [{"type": "dense", "units": 2}], "head": "sigmoid"}""", "'head'")]
    public void Parse_MalformedOrHostileSpec_ThrowsNamingTheField(string json, string expectedPath)
    {
        var ex = Assert.Throws<ModelSpecException>(() => ModelSpec.Parse(json));

        Assert.Contains(expectedPath, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_OversizedDocument_ThrowsBeforeParsing()
    {
        var json = "{\"name\": \"" + new string('a', ModelSpec.MaxJsonLength) + "\"}";

        var ex = Assert.Throws<ModelSpecException>(() => ModelSpec.Parse(json));

        Assert.Contains("limit", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DeeplyNestedDocument_ThrowsModelSpecException()
    {
        var json = new string('[', 1000) + new string(']', 1000);

        var ex = Assert.Throws<ModelSpecException>(() => ModelSpec.Parse(json));

        Assert.Contains("not valid JSON", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_TooManyLayers_Throws()
    {
        var layers = string.Join(", ", Enumerable.Repeat("""{"type": "relu"}""", ModelSpec.MaxLayers)) + """, {"type": "dense", "units": 2}""";
        var json = $$"""{"schemaVersion": 1, "name": "t", "input": {"shape": [4]}, "layers": [{{layers}}]}""";

        var ex = Assert.Throws<ModelSpecException>(() => ModelSpec.Parse(json));

        Assert.Contains("'layers'", ex.Message, StringComparison.Ordinal);
    }
}
