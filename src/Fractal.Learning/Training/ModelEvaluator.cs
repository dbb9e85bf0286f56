using Fractal.Learning.Onnx;
using Fractal.Learning.Specs;
using Microsoft.ML.OnnxRuntime;

namespace Fractal.Learning.Training;

/// <summary>Accuracy of a model on labeled samples, computed with the ONNX inference model on ONNX Runtime.</summary>
public static class ModelEvaluator
{
    /// <summary>Fraction of the first <paramref name="count"/> samples whose arg-max probability is the label.</summary>
    /// <param name="spec">The model.</param>
    /// <param name="parameters">Its parameters.</param>
    /// <param name="images">count * spec.InputSize raw values, sample after sample.</param>
    /// <param name="labels">count class indices.</param>
    /// <param name="count">Number of samples.</param>
    /// <param name="batchSize">Samples per inference run.</param>
    /// <param name="intraOpThreads">ONNX Runtime intra-op threads.</param>
    public static double Evaluate(ModelSpec spec, ModelParameters parameters, float[] images, int[] labels, int count, int batchSize = 256, int intraOpThreads = 1)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(parameters);
        LocalTrainer.CheckSamples(spec, images, labels, count);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (count == 0)
        {
            return double.NaN;
        }

        var model = InferenceModelBuilder.Build(spec, parameters);
        using var options = LocalTrainer.CreateSessionOptions(intraOpThreads);
        using var session = new InferenceSession(model, options);
        using var runOptions = new RunOptions();
        var classes = spec.ClassCount;
        var correct = 0;
        string[] inputNames = [InferenceModelBuilder.InputName];
        string[] outputNames = [InferenceModelBuilder.OutputName];
        for (var start = 0; start < count; start += batchSize)
        {
            var n = Math.Min(batchSize, count - start);
            var memory = new Memory<float>(images, start * spec.InputSize, n * spec.InputSize);
            long[] shape = [n, .. spec.Input.Shape.Select(d => (long)d)];
            using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, memory, shape);
            using var outputs = session.Run(runOptions, inputNames, [input], outputNames);
            var probabilities = outputs[0].GetTensorDataAsSpan<float>();
            for (var i = 0; i < n; i++)
            {
                var row = probabilities.Slice(i * classes, classes);
                var best = 0;
                for (var c = 1; c < classes; c++)
                {
                    if (row[c] > row[best])
                    {
                        best = c;
                    }
                }

                if (best == labels[start + i])
                {
                    correct++;
                }
            }
        }

        return (double)correct / count;
    }
}
