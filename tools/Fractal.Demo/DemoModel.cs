using System.Diagnostics;
using Fractal.Learning.Data;
using Fractal.Learning.Onnx;
using Fractal.Learning.Specs;
using Fractal.Learning.Training;

namespace Fractal.Demo;

/// <summary>
/// The model the demo deploys to its node: the example MLP (784-200-200-10), trained for a few
/// seconds on training images the camera never shows, as the hub would before a rollout.
/// </summary>
internal sealed record DemoModel(string SpecJson, byte[] Onnx, int TrainingImages, TimeSpan TrainingTime, double HeldOutAccuracy)
{
    public const string Version = "demo-1";

    public static DemoModel Train(LabeledImageSet training, LabeledImageSet heldOut)
    {
        var specJson = ModelSpecs.ReadJson(ModelSpecs.MlpResource);
        var spec = ModelSpec.Parse(specJson);
        var clock = Stopwatch.StartNew();
        using var trainer = new LocalTrainer(spec, new LocalTrainerOptions { LearningRate = 0.01f, Momentum = 0.9f }, ModelParameters.Initialize(spec, seed: 1));
        trainer.TrainEpochs(training.ToRawFloats(), training.GetLabelsAsInt32(), training.Count, epochs: 2, batchSize: 64, seed: 1);
        var parameters = trainer.GetParameters();
        var elapsed = clock.Elapsed;
        var accuracy = trainer.Evaluate(parameters, heldOut.ToRawFloats(), heldOut.GetLabelsAsInt32(), heldOut.Count);
        return new DemoModel(specJson, InferenceModelBuilder.Build(spec, parameters), training.Count, elapsed, accuracy);
    }
}
