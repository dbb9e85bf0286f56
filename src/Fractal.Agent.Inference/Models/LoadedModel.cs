using System.Collections.Concurrent;
using Fractal.Learning.Onnx;
using Fractal.Learning.Specs;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Fractal.Agent.Inference.Models;

/// <summary>
/// One model version loaded into an ONNX Runtime session, with preallocated input and output
/// buffers and a reference count.
/// </summary>
/// <remarks>
/// Lifetime: the runtime holds one reference while the version is active or previous; every
/// request holds one more for its duration (a lease). When the runtime evicts the version it
/// drops its reference (<see cref="Retire"/>); the session is disposed when the last request
/// finishes. <see cref="TryAcquire"/> never resurrects a count that reached zero, so a request
/// that raced with eviction retries on the new active version instead of using a disposed
/// session.
/// </remarks>
internal sealed class LoadedModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly SessionOptions _sessionOptions;
    private readonly RunOptions _runOptions = new();
    private readonly ConcurrentBag<RunContext> _contexts = [];
    private readonly long[] _inputShape;
    private readonly long[] _outputShape;
    private int _references = 1;
    private int _retired;

    private LoadedModel(string version, ModelSpec spec, InferenceSession session, SessionOptions sessionOptions)
    {
        Version = version;
        Spec = spec;
        _session = session;
        _sessionOptions = sessionOptions;
        _inputShape = [1, .. spec.Input.Shape.Select(d => (long)d)];
        _outputShape = [1, spec.ClassCount];
        Info = new ModelVersionInfo(version, spec.Name, spec.InputSize, spec.ClassCount);
    }

    public string Version { get; }

    public ModelSpec Spec { get; }

    public ModelVersionInfo Info { get; }

    /// <summary>True once the session has been disposed (all references gone).</summary>
    public bool IsDisposed => Volatile.Read(ref _references) == 0;

    /// <summary>
    /// Loads and validates <paramref name="onnxModel"/> against <paramref name="spec"/>: one float
    /// input "input" of shape [N, ..spec input], one float output "probabilities" of shape
    /// [N, classes], and a test run on a zero sample that yields finite probabilities.
    /// </summary>
    /// <exception cref="ModelRejectedException">Any of these checks failed; nothing stays loaded.</exception>
    public static LoadedModel Load(string version, ModelSpec spec, byte[] onnxModel, int intraOpThreads)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(version);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(onnxModel);
        if (onnxModel.Length == 0)
        {
            throw Reject(version, "the ONNX file is empty");
        }

        var options = new SessionOptions
        {
            IntraOpNumThreads = intraOpThreads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };

        InferenceSession session;
        try
        {
            session = new InferenceSession(onnxModel, options);
        }
        catch (OnnxRuntimeException ex)
        {
            options.Dispose();
            throw Reject(version, $"not a loadable ONNX model ({ex.Message})", ex);
        }

        var model = new LoadedModel(version, spec, session, options);
        try
        {
            model.CheckSignature();
            model.SmokeTest();
            return model;
        }
        catch (Exception ex) when (ex is ModelRejectedException or OnnxRuntimeException)
        {
            model.DisposeSession();
            throw ex as ModelRejectedException ?? Reject(version, $"the test inference failed ({ex.Message})", ex);
        }
    }

    /// <summary>Takes a reference unless the model is already gone.</summary>
    public bool TryAcquire()
    {
        while (true)
        {
            var current = Volatile.Read(ref _references);
            if (current == 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _references, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    /// <summary>Drops a reference; the last one disposes the session.</summary>
    public void Release()
    {
        var left = Interlocked.Decrement(ref _references);
        if (left == 0)
        {
            DisposeSession();
        }
        else if (left < 0)
        {
            throw new InvalidOperationException($"Model {Version} was released more often than acquired.");
        }
    }

    /// <summary>Drops the runtime's own reference, once.</summary>
    public void Retire()
    {
        if (Interlocked.Exchange(ref _retired, 1) == 0)
        {
            Release();
        }
    }

    /// <summary>Drops the owner's reference (same as <see cref="Retire"/>); the session goes with the last request.</summary>
    public void Dispose() => Retire();

    /// <summary>Runs one sample; the caller holds a reference.</summary>
    public Prediction Run(ReadOnlySpan<float> sample, Span<float> probabilities)
    {
        CheckSample(sample.Length, probabilities.Length);
        var context = Rent();
        try
        {
            sample.CopyTo(context.Input);
            return RunContextCore(context, probabilities);
        }
        finally
        {
            _contexts.Add(context);
        }
    }

    /// <summary>Runs one sample of raw bytes (for example pixels); the graph applies the spec's scaling.</summary>
    public Prediction Run(ReadOnlySpan<byte> sample, Span<float> probabilities)
    {
        CheckSample(sample.Length, probabilities.Length);
        var context = Rent();
        try
        {
            for (var i = 0; i < sample.Length; i++)
            {
                context.Input[i] = sample[i];
            }

            return RunContextCore(context, probabilities);
        }
        finally
        {
            _contexts.Add(context);
        }
    }

    private Prediction RunContextCore(RunContext context, Span<float> probabilities)
    {
        _session.Run(_runOptions, context.InputNames, context.InputValues, context.OutputNames, context.OutputValues);
        var output = context.Output.AsSpan();
        output.CopyTo(probabilities);
        var best = 0;
        for (var i = 1; i < output.Length; i++)
        {
            if (output[i] > output[best])
            {
                best = i;
            }
        }

        return new Prediction(Version, best, output[best]);
    }

    private void CheckSample(int sampleLength, int probabilitiesLength)
    {
        if (sampleLength != Spec.InputSize)
        {
            throw new ArgumentException($"Model {Version} ({Spec.Name}) takes {Spec.InputSize} values per sample, not {sampleLength}.");
        }

        if (probabilitiesLength != Spec.ClassCount)
        {
            throw new ArgumentException($"Model {Version} has {Spec.ClassCount} classes; the probabilities buffer holds {probabilitiesLength}.");
        }
    }

    private RunContext Rent() => _contexts.TryTake(out var context) ? context : new RunContext(_inputShape, _outputShape);

    private void CheckSignature()
    {
        if (_session.InputMetadata.Count != 1 || !_session.InputMetadata.TryGetValue(InferenceModelBuilder.InputName, out var input))
        {
            throw Reject(Version, $"expected one input named '{InferenceModelBuilder.InputName}', found [{string.Join(", ", _session.InputMetadata.Keys)}]");
        }

        CheckTensor(input, InferenceModelBuilder.InputName, [.. Spec.Input.Shape]);

        if (!_session.OutputMetadata.TryGetValue(InferenceModelBuilder.OutputName, out var output))
        {
            throw Reject(Version, $"expected an output named '{InferenceModelBuilder.OutputName}', found [{string.Join(", ", _session.OutputMetadata.Keys)}]");
        }

        CheckTensor(output, InferenceModelBuilder.OutputName, [Spec.ClassCount]);
    }

    private void CheckTensor(NodeMetadata metadata, string name, int[] expectedSample)
    {
        if (!metadata.IsTensor || metadata.ElementDataType != TensorElementType.Float)
        {
            throw Reject(Version, $"'{name}' must be a float tensor but is {metadata.OnnxValueType} of {metadata.ElementDataType}");
        }

        var dims = metadata.Dimensions;
        var matches = dims.Length == expectedSample.Length + 1
            && (dims[0] is -1 or 1)
            && dims.AsSpan(1).SequenceEqual(expectedSample);
        if (!matches)
        {
            throw Reject(
                Version,
                $"'{name}' has shape [{string.Join(", ", dims.Select(d => d < 0 ? "N" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}] but spec '{Spec.Name}' needs [N, {string.Join(", ", expectedSample)}]");
        }
    }

    private void SmokeTest()
    {
        Span<float> probabilities = stackalloc float[Spec.ClassCount];
        Run(new float[Spec.InputSize], probabilities);
        foreach (var p in probabilities)
        {
            if (!float.IsFinite(p))
            {
                throw Reject(Version, "the test inference on a zero sample produced non-finite probabilities");
            }
        }
    }

    private void DisposeSession()
    {
        while (_contexts.TryTake(out var context))
        {
            context.Dispose();
        }

        _session.Dispose();
        _sessionOptions.Dispose();
        _runOptions.Dispose();
    }

    private static ModelRejectedException Reject(string version, string problem, Exception? inner = null)
    {
        var message = $"Model version '{version}' rejected: {problem}.";
        return inner is null ? new ModelRejectedException(message) { Version = version } : new ModelRejectedException(message, inner) { Version = version };
    }

    /// <summary>Input and output buffers of one in-flight request, pinned once in OrtValues.</summary>
    private sealed class RunContext : IDisposable
    {
        public RunContext(long[] inputShape, long[] outputShape)
        {
            Input = new float[inputShape.Aggregate(1L, (a, b) => a * b)];
            Output = new float[outputShape.Aggregate(1L, (a, b) => a * b)];
            InputValues = [OrtValue.CreateTensorValueFromMemory(Input, inputShape)];
            OutputValues = [OrtValue.CreateTensorValueFromMemory(Output, outputShape)];
        }

        public float[] Input { get; }

        public float[] Output { get; }

        public string[] InputNames { get; } = [InferenceModelBuilder.InputName];

        public string[] OutputNames { get; } = [InferenceModelBuilder.OutputName];

        public OrtValue[] InputValues { get; }

        public OrtValue[] OutputValues { get; }

        public void Dispose()
        {
            InputValues[0].Dispose();
            OutputValues[0].Dispose();
        }
    }
}
