using Fractal.Learning.Specs;
using Microsoft.ML.OnnxRuntime;

namespace Fractal.Learning.Training;

/// <summary>
/// Trains a model on local data by running its ONNX training-step graph on stock ONNX Runtime.
/// </summary>
/// <remarks>
/// The hot path allocates nothing: parameters and optimizer state live in two preallocated
/// buffer sets (A and B) wrapped once in OrtValues; two IOBindings run A to B and B to A, so the
/// outputs of step k are the inputs of step k + 1 by switching bindings. Batches are copied into
/// preallocated input buffers. Results are bitwise reproducible for a fixed seed, initial
/// parameters and <see cref="LocalTrainerOptions.IntraOpThreads"/>. Not thread-safe: one caller at a time.
/// </remarks>
public sealed class LocalTrainer : IDisposable
{
    // Batch sizes whose buffers and bindings stay cached: a full and a tail size for two
    // batch sizes in alternation (training and, say, a fine-tuning job) without reallocation.
    private const int MaxCachedBatchSizes = 4;

    private readonly ModelSpec _spec;
    private readonly LocalTrainerOptions _options;
    private readonly TrainingGraph _graph;
    private readonly SessionOptions _sessionOptions;
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions;

    // [set][tensor]: set 0 is A, set 1 is B. State tensors follow TrainingGraph.StateNames.
    private readonly float[][][] _parameters;
    private readonly float[][][] _state;
    private readonly OrtValue[][] _parameterValues;
    private readonly OrtValue[][] _stateValues;
    private readonly float[][] _global;
    private readonly OrtValue[] _globalValues;
    private readonly Dictionary<string, (float[] Buffer, OrtValue Value)> _hyper = new(StringComparer.Ordinal);
    private readonly float[] _loss = new float[1];
    private readonly OrtValue _lossValue;
    private readonly Dictionary<int, BatchBinding> _batches = [];
    private long _batchClock;
    private int _current;
    private long _adamStep;
    private bool _disposed;

    /// <summary>Creates a trainer for <paramref name="spec"/>, starting from <paramref name="initialParameters"/> or from <see cref="ModelParameters.Initialize"/> with seed 0.</summary>
    public LocalTrainer(ModelSpec spec, LocalTrainerOptions? options = null, ModelParameters? initialParameters = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        _spec = spec;
        _options = options ?? new LocalTrainerOptions();
        _options.Validate();
        var initial = initialParameters ?? ModelParameters.Initialize(spec, 0);
        initial.EnsureMatches(spec);

        _graph = TrainingGraphBuilder.Build(spec, new TrainingGraphOptions
        {
            Optimizer = _options.Optimizer,
            ProximalTerm = _options.ProximalMu > 0f,
        });
        _sessionOptions = CreateSessionOptions(_options.IntraOpThreads);
        _session = new InferenceSession(_graph.Model, _sessionOptions);
        _runOptions = new RunOptions();

        var stateShapes = _graph.StateNames.Select(n => spec.Parameters[IndexOfParameter(spec, n)].Shape).ToArray();
        _parameters = new float[2][][];
        _state = new float[2][][];
        _parameterValues = new OrtValue[2][];
        _stateValues = new OrtValue[2][];
        for (var set = 0; set < 2; set++)
        {
            _parameters[set] = spec.Parameters.Select(p => new float[p.ElementCount]).ToArray();
            _parameterValues[set] = spec.Parameters.Select((p, i) => OrtValue.CreateTensorValueFromMemory(_parameters[set][i], Shape(p.Shape))).ToArray();
            _state[set] = stateShapes.Select(s => new float[ModelSpec.Product(s)]).ToArray();
            _stateValues[set] = stateShapes.Select((s, i) => OrtValue.CreateTensorValueFromMemory(_state[set][i], Shape(s))).ToArray();
        }

        if (_graph.Options.ProximalTerm)
        {
            _global = spec.Parameters.Select(p => new float[p.ElementCount]).ToArray();
            _globalValues = spec.Parameters.Select((p, i) => OrtValue.CreateTensorValueFromMemory(_global[i], Shape(p.Shape))).ToArray();
        }
        else
        {
            _global = [];
            _globalValues = [];
        }

        foreach (var name in _graph.HyperParameterNames)
        {
            var buffer = new float[1];
            _hyper[name] = (buffer, OrtValue.CreateTensorValueFromMemory(buffer, []));
        }

        _lossValue = OrtValue.CreateTensorValueFromMemory(_loss, []);
        SetHyper(HyperParameterNames.LearningRate, _options.LearningRate);
        SetHyper(HyperParameterNames.WeightDecay, _options.WeightDecay);
        SetHyper(HyperParameterNames.Momentum, _options.Momentum);
        SetHyper(HyperParameterNames.Beta1, _options.Beta1);
        SetHyper(HyperParameterNames.Beta2, _options.Beta2);
        SetHyper(HyperParameterNames.Epsilon, _options.Epsilon);
        SetHyper(HyperParameterNames.Mu, _options.ProximalMu);
        SetParameters(initial);
    }

    /// <summary>The model being trained.</summary>
    public ModelSpec Spec => _spec;

    /// <summary>Optimizer steps since construction or the last <see cref="SetParameters"/>.</summary>
    public long StepCount { get; private set; }

    /// <summary>Learning rate of the following steps (for schedules between epochs or rounds).</summary>
    public float LearningRate
    {
        get => _hyper[HyperParameterNames.LearningRate].Buffer[0];
        set
        {
            if (!float.IsFinite(value) || value < 0f)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "The learning rate must be finite and non-negative.");
            }

            SetHyper(HyperParameterNames.LearningRate, value);
        }
    }

    /// <summary>
    /// Trains for <paramref name="epochs"/> passes over the first <paramref name="count"/> samples,
    /// shuffled per epoch by <paramref name="seed"/>, in mini-batches of <paramref name="batchSize"/>
    /// (the last batch of an epoch may be smaller).
    /// </summary>
    /// <param name="images">count * Spec.InputSize raw values, sample after sample (the spec's preprocessing is in the graph).</param>
    /// <param name="labels">count class indices in [0, Spec.ClassCount).</param>
    /// <param name="count">Number of samples to use.</param>
    /// <param name="epochs">Passes over the data.</param>
    /// <param name="batchSize">Samples per step.</param>
    /// <param name="seed">Seed for shuffling and dropout masks.</param>
    /// <param name="cancellationToken">Checked between steps.</param>
    public TrainingReport TrainEpochs(float[] images, int[] labels, int count, int epochs, int batchSize, int seed, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckSamples(_spec, images, labels, count);
        ArgumentOutOfRangeException.ThrowIfNegative(epochs);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batchSize, 65_536);
        if (count == 0 || epochs == 0)
        {
            return new TrainingReport([], 0, count);
        }

        var random = new DeterministicRandom(seed);
        var order = new int[count];
        var losses = new double[epochs];
        var full = Batch(Math.Min(batchSize, count));
        var tailSize = count % batchSize;
        var tail = tailSize > 0 && count > batchSize ? Batch(tailSize, inUse: full) : null;
        var steps = 0;
        for (var epoch = 0; epoch < epochs; epoch++)
        {
            for (var i = 0; i < count; i++)
            {
                order[i] = i;
            }

            for (var i = count - 1; i > 0; i--)
            {
                var j = random.NextInt(i + 1);
                (order[i], order[j]) = (order[j], order[i]);
            }

            double sum = 0;
            for (var start = 0; start < count; start += batchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var n = Math.Min(batchSize, count - start);
                var batch = n == full.Size ? full : tail!;
                Fill(batch, images, labels, order.AsSpan(start, n), ref random);
                sum += (double)Step(batch) * n;
                steps++;
            }

            losses[epoch] = sum / count;
        }

        return new TrainingReport(losses, steps, count);
    }

    /// <summary>A copy of the current parameters.</summary>
    public ModelParameters GetParameters()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new ModelParameters(_spec.Parameters.Select((p, i) => new ParameterTensor(p.Name, p.Shape, (float[])_parameters[_current][i].Clone())));
    }

    /// <summary>
    /// Replaces the parameters (for example with a round's global model), resets the optimizer
    /// state and step count, and makes these parameters the FedProx anchor.
    /// </summary>
    public void SetParameters(ModelParameters parameters)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(parameters);
        parameters.EnsureMatches(_spec);
        for (var i = 0; i < _spec.Parameters.Count; i++)
        {
            parameters.Tensors[i].Data.CopyTo(_parameters[_current][i], 0);
            if (_global.Length > 0)
            {
                parameters.Tensors[i].Data.CopyTo(_global[i], 0);
            }
        }

        foreach (var s in _state[_current])
        {
            Array.Clear(s);
        }

        _adamStep = 0;
        StepCount = 0;
    }

    /// <summary>Accuracy of the current parameters on the first <paramref name="count"/> samples.</summary>
    public double Evaluate(float[] images, int[] labels, int count) => Evaluate(GetParameters(), images, labels, count);

    /// <summary>Accuracy of <paramref name="parameters"/> on the first <paramref name="count"/> samples, via the ONNX inference model.</summary>
    public double Evaluate(ModelParameters parameters, float[] images, int[] labels, int count) =>
        ModelEvaluator.Evaluate(_spec, parameters, images, labels, count, _options.EvaluationBatchSize, _options.IntraOpThreads);

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var b in _batches.Values)
        {
            b.Dispose();
        }

        foreach (var v in _parameterValues.SelectMany(s => s).Concat(_stateValues.SelectMany(s => s)).Concat(_globalValues).Concat(_hyper.Values.Select(h => h.Value)))
        {
            v.Dispose();
        }

        _lossValue.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
        _sessionOptions.Dispose();
    }

    internal static SessionOptions CreateSessionOptions(int intraOpThreads)
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = intraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };

        // Edge nodes share their few cores with ingest and inference: do not spin idle workers.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return options;
    }

    internal static void CheckSamples(ModelSpec spec, float[] images, int[] labels, int count)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if ((long)count * spec.InputSize > images.Length)
        {
            throw new ArgumentException($"{count} samples of {spec.InputSize} values need {(long)count * spec.InputSize} image values but {images.Length} were given.", nameof(images));
        }

        if (count > labels.Length)
        {
            throw new ArgumentException($"{count} samples need {count} labels but {labels.Length} were given.", nameof(labels));
        }

        for (var i = 0; i < count; i++)
        {
            if ((uint)labels[i] >= (uint)spec.ClassCount)
            {
                throw new ArgumentException($"Label {i} is {labels[i]}; model '{spec.Name}' has classes 0 to {spec.ClassCount - 1}.", nameof(labels));
            }
        }
    }

    private float Step(BatchBinding batch)
    {
        if (_graph.Options.Optimizer == OptimizerKind.Adam)
        {
            _adamStep++;
            SetHyper(HyperParameterNames.Step, _adamStep);
        }

        _session.RunWithBinding(_runOptions, batch.Bindings[_current]);
        _current ^= 1;
        StepCount++;
        return _loss[0];
    }

    private void Fill(BatchBinding batch, float[] images, int[] labels, ReadOnlySpan<int> indices, ref DeterministicRandom random)
    {
        var size = _spec.InputSize;
        for (var j = 0; j < indices.Length; j++)
        {
            var sample = indices[j];
            Array.Copy(images, (long)sample * size, batch.X, (long)j * size, size);
            batch.Y[j] = labels[sample];
        }

        for (var m = 0; m < batch.Masks.Length; m++)
        {
            var rate = ((DropoutLayer)_spec.Layers[_graph.DropoutLayers[m]]).Rate;
            var keep = 1f / (1f - rate);
            var mask = batch.Masks[m];
            for (var i = 0; i < mask.Length; i++)
            {
                mask[i] = random.NextFloat() < rate ? 0f : keep;
            }
        }
    }

    private BatchBinding Batch(int size, BatchBinding? inUse = null)
    {
        if (_batches.TryGetValue(size, out var existing))
        {
            existing.LastUsed = ++_batchClock;
            return existing;
        }

        // Memory stays bounded: evict the least recently used sizes, but never the binding the
        // caller still holds for this call (disposing it made ONNX Runtime run on freed bindings).
        // Runs once per TrainEpochs call, not per step; enumerating the values allocates nothing.
        while (_batches.Count >= MaxCachedBatchSizes)
        {
            BatchBinding? oldest = null;
            foreach (var b in _batches.Values)
            {
                if (!ReferenceEquals(b, inUse) && (oldest is null || b.LastUsed < oldest.LastUsed))
                {
                    oldest = b;
                }
            }

            if (oldest is null)
            {
                break;
            }

            _batches.Remove(oldest.Size);
            oldest.Dispose();
        }

        var batch = new BatchBinding(this, size) { LastUsed = ++_batchClock };
        _batches[size] = batch;
        return batch;
    }

    private void SetHyper(string name, float value)
    {
        if (_hyper.TryGetValue(name, out var h))
        {
            h.Buffer[0] = value;
        }
    }

    private static long[] Shape(IReadOnlyList<int> dims) => [.. dims.Select(d => (long)d)];

    private static int IndexOfParameter(ModelSpec spec, string stateName)
    {
        for (var i = 0; i < spec.Parameters.Count; i++)
        {
            if (stateName.StartsWith(spec.Parameters[i].Name + ".", StringComparison.Ordinal))
            {
                return i;
            }
        }

        throw new InvalidOperationException($"State '{stateName}' belongs to no parameter.");
    }

    /// <summary>Input buffers for one batch size and the two bindings (A to B, B to A) that use them.</summary>
    private sealed class BatchBinding : IDisposable
    {
        private readonly List<OrtValue> _values = [];

        public BatchBinding(LocalTrainer trainer, int size)
        {
            Size = size;
            var spec = trainer._spec;
            var graph = trainer._graph;
            X = new float[size * spec.InputSize];
            Y = new long[size];
            var x = Track(OrtValue.CreateTensorValueFromMemory(X, [size, .. spec.Input.Shape.Select(d => (long)d)]));
            var y = Track(OrtValue.CreateTensorValueFromMemory(Y, [size]));
            Masks = new float[graph.DropoutLayers.Count][];
            var maskValues = new OrtValue[Masks.Length];
            for (var m = 0; m < Masks.Length; m++)
            {
                var shape = spec.ActivationShape(graph.DropoutLayers[m]);
                Masks[m] = new float[size * ModelSpec.Product(shape)];
                maskValues[m] = Track(OrtValue.CreateTensorValueFromMemory(Masks[m], [size, .. shape.Select(d => (long)d)]));
            }

            Bindings = new OrtIoBinding[2];
            for (var from = 0; from < 2; from++)
            {
                var to = from ^ 1;
                var b = trainer._session.CreateIoBinding();
                Bindings[from] = b;
                b.BindInput(TrainingGraph.BatchInput, x);
                b.BindInput(TrainingGraph.LabelInput, y);
                for (var m = 0; m < Masks.Length; m++)
                {
                    b.BindInput(TrainingGraph.DropoutMaskName(graph.DropoutLayers[m]), maskValues[m]);
                }

                foreach (var (name, h) in trainer._hyper)
                {
                    b.BindInput(name, h.Value);
                }

                for (var i = 0; i < graph.ParameterNames.Count; i++)
                {
                    b.BindInput(graph.ParameterNames[i], trainer._parameterValues[from][i]);
                    b.BindOutput(graph.ParameterNames[i] + TrainingGraph.UpdatedSuffix, trainer._parameterValues[to][i]);
                    if (trainer._globalValues.Length > 0)
                    {
                        b.BindInput(graph.ParameterNames[i] + TrainingGraph.GlobalSuffix, trainer._globalValues[i]);
                    }
                }

                for (var i = 0; i < graph.StateNames.Count; i++)
                {
                    b.BindInput(graph.StateNames[i], trainer._stateValues[from][i]);
                    b.BindOutput(graph.StateNames[i] + TrainingGraph.UpdatedSuffix, trainer._stateValues[to][i]);
                }

                b.BindOutput(TrainingGraph.LossOutput, trainer._lossValue);
            }
        }

        public int Size { get; }

        /// <summary>Value of the trainer's use clock when this size was last requested (for LRU eviction).</summary>
        public long LastUsed { get; set; }

        public float[] X { get; }

        public long[] Y { get; }

        public float[][] Masks { get; }

        public OrtIoBinding[] Bindings { get; }

        public void Dispose()
        {
            foreach (var b in Bindings)
            {
                b.Dispose();
            }

            foreach (var v in _values)
            {
                v.Dispose();
            }
        }

        private OrtValue Track(OrtValue value)
        {
            _values.Add(value);
            return value;
        }
    }
}
