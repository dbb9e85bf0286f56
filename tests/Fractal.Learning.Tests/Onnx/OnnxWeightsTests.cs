using Fractal.Learning.Onnx;
using Fractal.Learning.Specs;
using global::Onnx;
using Google.Protobuf;

namespace Fractal.Learning.Tests.Onnx;

public sealed class OnnxWeightsTests
{
    [Theory]
    [InlineData(ModelSpecs.MlpResource)]
    [InlineData(ModelSpecs.SimpleCnnResource)]
    public void Read_BuiltModel_RoundTripsParametersBitwise(string resource)
    {
        var spec = ModelSpec.Parse(ModelSpecs.ReadJson(resource));
        var parameters = TestData.Parameters(spec, 11);

        var read = OnnxWeights.Read(InferenceModelBuilder.Build(spec, parameters), spec);

        Assert.Equal(parameters.Tensors.Select(t => t.Name), read.Tensors.Select(t => t.Name));
        for (var i = 0; i < parameters.Count; i++)
        {
            Assert.Equal(parameters.Tensors[i].Shape, read.Tensors[i].Shape);
            Assert.Equal(parameters.Tensors[i].Data, read.Tensors[i].Data);
        }
    }

    [Fact]
    public void ReadSpec_BuiltModel_ReturnsEmbeddedSpec()
    {
        var spec = ModelSpecs.SimpleCnn();

        var read = OnnxWeights.ReadSpec(InferenceModelBuilder.Build(spec, ModelParameters.Initialize(spec, 1)));

        Assert.NotNull(read);
        Assert.Equal(spec.ToJson(), read.ToJson());
    }

    [Fact]
    public void Read_TruncatedModel_ThrowsOnnxModelException()
    {
        var spec = ModelSpecs.Mlp();
        var model = InferenceModelBuilder.Build(spec, ModelParameters.Initialize(spec, 1));

        var ex = Assert.Throws<OnnxModelException>(() => OnnxWeights.Read(model[..(model.Length / 2)], spec));

        Assert.Contains("not a valid ONNX model", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_NonOnnxBytes_ThrowsOnnxModelException()
    {
        var garbage = "this is not an onnx model, just text"u8.ToArray();

        Assert.Throws<OnnxModelException>(() => OnnxWeights.Read(garbage, ModelSpecs.Mlp()));
    }

    [Fact]
    public void Read_ModelOfAnotherSpec_ThrowsNamingTheTensor()
    {
        var cnn = ModelSpecs.SimpleCnn();
        var model = InferenceModelBuilder.Build(cnn, ModelParameters.Initialize(cnn, 1));

        var ex = Assert.Throws<OnnxModelException>(() => OnnxWeights.Read(model, ModelSpecs.Mlp()));

        Assert.Contains("layers.0.weight", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_CorruptTensorPayload_ThrowsNamingTheTensor()
    {
        var spec = ModelSpecs.Mlp();
        var proto = ModelProto.Parser.ParseFrom(InferenceModelBuilder.Build(spec, ModelParameters.Initialize(spec, 1)));
        var bias = proto.Graph.Initializer.Single(t => t.Name == "layers.2.bias");
        bias.RawData = ByteString.CopyFrom(bias.RawData.Span[..12]);

        var ex = Assert.Throws<OnnxModelException>(() => OnnxWeights.Read(proto.ToByteArray(), spec));

        Assert.Contains("layers.2.bias", ex.Message, StringComparison.Ordinal);
        Assert.Contains("12 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_NonFiniteWeight_ThrowsNamingTheTensor()
    {
        var spec = ModelSpecs.Mlp();
        var parameters = ModelParameters.Initialize(spec, 1);
        parameters["layers.4.weight"].Data[3] = float.NaN;

        var ex = Assert.Throws<OnnxModelException>(() => OnnxWeights.Read(InferenceModelBuilder.Build(spec, parameters), spec));

        Assert.Contains("layers.4.weight", ex.Message, StringComparison.Ordinal);
    }
}
