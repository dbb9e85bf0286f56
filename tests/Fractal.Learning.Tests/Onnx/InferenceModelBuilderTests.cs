using Fractal.Learning.Onnx;
using Fractal.Learning.Specs;
using Microsoft.ML.OnnxRuntime;

namespace Fractal.Learning.Tests.Onnx;

public sealed class InferenceModelBuilderTests
{
    public static TheoryData<string> Examples => [ModelSpecs.MlpResource, ModelSpecs.SimpleCnnResource];

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task Build_ExampleSpec_PassesOnnxChecker(string resource)
    {
        var spec = ModelSpec.Parse(ModelSpecs.ReadJson(resource));

        var model = InferenceModelBuilder.Build(spec, ModelParameters.Initialize(spec, 1));

        await OnnxChecker.AssertValidAsync(model);
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public void Build_ExampleSpec_OrtOutputMatchesReferenceSoftmax(string resource)
    {
        var spec = ModelSpec.Parse(ModelSpecs.ReadJson(resource));
        var parameters = TestData.Parameters(spec, 3);
        const int batch = 3;
        var x = TestData.Uniform(batch * spec.InputSize, 5, 0f, 255f);

        var model = InferenceModelBuilder.Build(spec, parameters);
        using var session = new InferenceSession(model);
        using var input = OrtValue.CreateTensorValueFromMemory(x, [batch, spec.InputSize]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [InferenceModelBuilder.InputName], [input], [InferenceModelBuilder.OutputName]);
        var probabilities = outputs[0].GetTensorDataAsSpan<float>().ToArray();

        Assert.Equal([batch, spec.ClassCount], outputs[0].GetTensorTypeAndShape().Shape);
        var logits = ReferenceModel.Logits(spec, ReferenceModel.ToDouble(parameters), x, batch);
        for (var n = 0; n < batch; n++)
        {
            var row = logits.AsSpan(n * spec.ClassCount, spec.ClassCount);
            var max = row.ToArray().Max();
            var sum = row.ToArray().Sum(v => Math.Exp(v - max));
            for (var c = 0; c < spec.ClassCount; c++)
            {
                Assert.Equal(Math.Exp(row[c] - max) / sum, probabilities[(n * spec.ClassCount) + c], 5);
            }
        }
    }

    [Fact]
    public void Build_SpecWithDropout_OmitsDropoutAtInference()
    {
        var spec = ModelSpec.Parse("""
            {"schemaVersion": 1, "name": "d", "input": {"shape": [4]},
             "layers": [{"type": "dense", "units": 3}, {"type": "dropout", "rate": 0.5}, {"type": "dense", "units": 2}]}
            """);
        var parameters = TestData.Parameters(spec, 1);
        float[] x = [1f, 2f, 3f, 4f];

        using var session = new InferenceSession(InferenceModelBuilder.Build(spec, parameters));
        using var input = OrtValue.CreateTensorValueFromMemory(x, [1, 4]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [InferenceModelBuilder.InputName], [input], [InferenceModelBuilder.OutputName]);

        var logits = ReferenceModel.Logits(spec, ReferenceModel.ToDouble(parameters), x, 1);
        var p1 = 1 / (1 + Math.Exp(logits[0] - logits[1]));
        Assert.Equal(p1, outputs[0].GetTensorDataAsSpan<float>()[1], 5);
    }

    [Fact]
    public void Build_ParametersOfAnotherSpec_Throws()
    {
        Assert.Throws<ArgumentException>(() => InferenceModelBuilder.Build(ModelSpecs.Mlp(), ModelParameters.Initialize(ModelSpecs.SimpleCnn(), 1)));
    }
}
