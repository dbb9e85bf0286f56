using Fractal.Learning.Specs;

namespace Fractal.Agent.Inference.Models;

/// <summary>
/// The node's model runtime: serves the active model version and swaps versions atomically
/// while requests keep flowing.
/// </summary>
public interface IModelRuntime
{
    /// <summary>The version serving requests, or null before the first activation.</summary>
    ModelVersionInfo? Active { get; }

    /// <summary>The version kept loaded for rollback, or null.</summary>
    ModelVersionInfo? Previous { get; }

    /// <summary>
    /// Loads, validates and activates a version. The old active version becomes the previous one
    /// (still loaded); the old previous one is released once its in-flight requests finish.
    /// </summary>
    /// <exception cref="ModelRejectedException">The ONNX model is not loadable or does not match the spec; the active model keeps serving.</exception>
    ModelVersionInfo Activate(string version, ModelSpec spec, byte[] onnxModel);

    /// <summary>Swaps the active and previous versions instantly (no loading).</summary>
    /// <exception cref="InvalidOperationException">There is no previous version.</exception>
    ModelVersionInfo Rollback();

    /// <summary>Runs one sample on the active version.</summary>
    /// <param name="sample">Spec.InputSize raw values (the spec's preprocessing is in the model).</param>
    /// <param name="probabilities">Receives the class probabilities (Spec.ClassCount values).</param>
    /// <exception cref="InvalidOperationException">No model is active.</exception>
    Prediction Predict(ReadOnlySpan<float> sample, Span<float> probabilities);

    /// <summary>Runs one sample of raw bytes (for example 8-bit pixels) on the active version.</summary>
    Prediction Predict(ReadOnlySpan<byte> sample, Span<float> probabilities);

    /// <summary>
    /// Pins the active version for several requests: the lease keeps serving that version even
    /// if a swap happens meanwhile. Dispose it promptly; it keeps the version's session alive.
    /// </summary>
    /// <exception cref="InvalidOperationException">No model is active.</exception>
    ModelLease AcquireActive();
}

/// <summary>A reference to one loaded model version; see <see cref="IModelRuntime.AcquireActive"/>.</summary>
public sealed class ModelLease : IDisposable
{
    private LoadedModel? _model;

    internal ModelLease(LoadedModel model) => _model = model;

    /// <summary>The leased version.</summary>
    public ModelVersionInfo Info => Model.Info;

    /// <summary>The leased version's spec.</summary>
    public ModelSpec Spec => Model.Spec;

    /// <summary>The leased model (tests check its reference count through it).</summary>
    internal LoadedModel Model => _model ?? throw new ObjectDisposedException(nameof(ModelLease));

    /// <summary>Runs one sample on the leased version.</summary>
    public Prediction Predict(ReadOnlySpan<float> sample, Span<float> probabilities) => Model.Run(sample, probabilities);

    /// <summary>Runs one sample of raw bytes on the leased version.</summary>
    public Prediction Predict(ReadOnlySpan<byte> sample, Span<float> probabilities) => Model.Run(sample, probabilities);

    /// <inheritdoc />
    public void Dispose() => Interlocked.Exchange(ref _model, null)?.Release();
}
