using Fractal.Learning.Specs;
using Fractal.Learning.Training;
using Microsoft.ML.OnnxRuntime;

namespace Fractal.Learning.Tests.Training;

/// <summary>Runs one training step through ORT by name, without the trainer's bindings.</summary>
internal sealed class StepRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();

    public StepRunner(ModelSpec spec, TrainingGraphOptions options)
    {
        Spec = spec;
        Graph = TrainingGraphBuilder.Build(spec, options);
        _session = new InferenceSession(Graph.Model);
    }

    public ModelSpec Spec { get; }

    public TrainingGraph Graph { get; }

    /// <summary>Runs the step; state and global tensors not given are zero; returns every output by name.</summary>
    public Dictionary<string, float[]> Run(
        ModelParameters parameters,
        float[] x,
        long[] y,
        IReadOnlyDictionary<string, float> hyper,
        IReadOnlyDictionary<int, float[]>? masks = null,
        IReadOnlyDictionary<string, float[]>? extra = null)
    {
        var batch = y.Length;
        var names = new List<string>();
        var values = new List<OrtValue>();
        try
        {
            void Add(string name, float[] data, IEnumerable<int> shape)
            {
                names.Add(name);
                values.Add(OrtValue.CreateTensorValueFromMemory(data, [.. shape.Select(d => (long)d)]));
            }

            Add(TrainingGraph.BatchInput, x, [batch, .. Spec.Input.Shape]);
            names.Add(TrainingGraph.LabelInput);
            values.Add(OrtValue.CreateTensorValueFromMemory(y, [batch]));
            foreach (var t in parameters.Tensors)
            {
                Add(t.Name, t.Data, t.Shape);
            }

            foreach (var s in Graph.StateNames)
            {
                var shape = parameters.Tensors.First(t => s.StartsWith(t.Name + ".", StringComparison.Ordinal)).Shape;
                Add(s, extra?.GetValueOrDefault(s) ?? new float[shape.Aggregate(1, (a, d) => a * d)], shape);
            }

            if (Graph.Options.ProximalTerm)
            {
                foreach (var t in parameters.Tensors)
                {
                    Add(t.Name + TrainingGraph.GlobalSuffix, extra?.GetValueOrDefault(t.Name + TrainingGraph.GlobalSuffix) ?? new float[t.Data.Length], t.Shape);
                }
            }

            foreach (var layer in Graph.DropoutLayers)
            {
                Add(TrainingGraph.DropoutMaskName(layer), masks![layer], [batch, .. Spec.ActivationShape(layer)]);
            }

            foreach (var h in Graph.HyperParameterNames)
            {
                Add(h, [hyper.GetValueOrDefault(h)], []);
            }

            var outputNames = _session.OutputNames.ToArray();
            using var outputs = _session.Run(_runOptions, names, values, outputNames);
            var result = new Dictionary<string, float[]>(StringComparer.Ordinal);
            for (var i = 0; i < outputNames.Length; i++)
            {
                result[outputNames[i]] = outputs[i].GetTensorDataAsSpan<float>().ToArray();
            }

            return result;
        }
        finally
        {
            foreach (var v in values)
            {
                v.Dispose();
            }
        }
    }

    public void Dispose()
    {
        _runOptions.Dispose();
        _session.Dispose();
    }
}
