using Fractal.Learning.Specs;

namespace Fractal.Learning.Tests.Specs;

public sealed class ModelParametersTests
{
    [Fact]
    public void Initialize_SameSeed_IsBitwiseEqual()
    {
        var spec = ModelSpecs.SimpleCnn();

        var a = ModelParameters.Initialize(spec, 42);
        var b = ModelParameters.Initialize(spec, 42);

        Assert.Equal(a.Count, b.Count);
        for (var i = 0; i < a.Count; i++)
        {
            Assert.Equal(a.Tensors[i].Data, b.Tensors[i].Data);
        }
    }

    [Fact]
    public void Initialize_DifferentSeed_Differs()
    {
        var spec = ModelSpecs.Mlp();

        var a = ModelParameters.Initialize(spec, 1);
        var b = ModelParameters.Initialize(spec, 2);

        Assert.NotEqual(a.Tensors[0].Data, b.Tensors[0].Data);
    }

    [Fact]
    public void Initialize_Mlp_UsesHeForReluLayersGlorotForLogitsAndZeroBiases()
    {
        var spec = ModelSpecs.Mlp();

        var p = ModelParameters.Initialize(spec, 7);

        var heBound = (float)Math.Sqrt(6.0 / 784);
        var first = p["layers.0.weight"].Data;
        Assert.All(first, v => Assert.InRange(v, -heBound, heBound));
        Assert.True(first.Max() > 0.9f * heBound, "He uniform should nearly reach its bound");
        var glorotBound = (float)Math.Sqrt(6.0 / (200 + 10));
        var last = p["layers.4.weight"].Data;
        Assert.All(last, v => Assert.InRange(v, -glorotBound, glorotBound));
        Assert.True(last.Max() > 0.9f * glorotBound, "Glorot uniform should nearly reach its bound");
        Assert.All(p.Tensors.Where(t => t.Name.EndsWith(".bias", StringComparison.Ordinal)), t => Assert.All(t.Data, v => Assert.Equal(0f, v)));
    }

    [Fact]
    public void Initialize_TorchDefault_Cnn_WeightsAndBiasesUniformInOneOverSqrtFanIn()
    {
        var spec = ModelSpecs.SimpleCnn();

        var p = ModelParameters.Initialize(spec, 7, ParameterInitialization.TorchDefault);

        // PyTorch's Conv2d and Linear: fan-in is input channels x kernel area, or input features.
        foreach (var (layer, fanIn) in new[] { ("layers.0", 1 * 5 * 5), ("layers.3", 6 * 5 * 5), ("layers.7", 16 * 4 * 4) })
        {
            var bound = (float)(1 / Math.Sqrt(fanIn));
            foreach (var tensor in new[] { p[layer + ".weight"].Data, p[layer + ".bias"].Data })
            {
                Assert.All(tensor, v => Assert.InRange(v, -bound, bound));
                Assert.True(tensor.Max(Math.Abs) > 0.5f * bound, $"{layer}: values should spread over the bound");
            }
        }

        Assert.Equal(p.Tensors.Select(t => t.Data), ModelParameters.Initialize(spec, 7, ParameterInitialization.TorchDefault).Tensors.Select(t => t.Data));
    }

    [Fact]
    public void EnsureMatches_WrongShape_ThrowsNamingTheTensor()
    {
        var spec = ModelSpecs.Mlp();
        var p = ModelParameters.Initialize(spec, 1);
        var tensors = p.Tensors.ToList();
        tensors[2] = new ParameterTensor("layers.2.weight", [10, 10], new float[100]);

        var ex = Assert.Throws<ArgumentException>(() => new ModelParameters(tensors).EnsureMatches(spec));

        Assert.Contains("layers.2.weight", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_DuplicateNames_Throws()
    {
        var t = new ParameterTensor("w", [2], new float[2]);

        Assert.Throws<ArgumentException>(() => new ModelParameters([t, t.Clone()]));
    }

    [Fact]
    public void ParameterTensor_DataLengthMismatch_Throws()
    {
        Assert.Throws<ArgumentException>(() => new ParameterTensor("w", [2, 3], new float[5]));
    }
}
