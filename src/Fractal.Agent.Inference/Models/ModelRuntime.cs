using Fractal.Learning.Specs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Inference.Models;

/// <summary>
/// Hot-swappable model runtime. Readers are lock-free: a request reads the current pair of
/// slots, takes a reference on the active model and runs on it; a swap publishes a new pair and
/// retires the evicted model, whose session lives until its last in-flight request finishes.
/// </summary>
internal sealed class ModelRuntime : IModelRuntime, IDisposable
{
    private readonly InferenceOptions _options;
    private readonly ILogger<ModelRuntime> _logger;

    // Swaps are rare and serialized; requests only read _slots.
    private readonly Lock _swapGate = new();
    private Slots _slots = Slots.Empty;
    private bool _disposed;

    public ModelRuntime(IOptions<InferenceOptions> options, ILogger<ModelRuntime> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _logger = logger;
    }

    public ModelVersionInfo? Active => Volatile.Read(ref _slots).Active?.Info;

    public ModelVersionInfo? Previous => Volatile.Read(ref _slots).Previous?.Info;

    public ModelVersionInfo Activate(string version, ModelSpec spec, byte[] onnxModel)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        LoadedModel candidate;
        try
        {
            // Loading and validation happen outside the gate: requests and the active model are unaffected.
            candidate = LoadedModel.Load(version, spec, onnxModel, _options.IntraOpThreads);
        }
        catch (ModelRejectedException ex)
        {
            InferenceLog.ModelRejected(_logger, version, Active?.Version, ex.Message);
            throw;
        }

        LoadedModel? evicted;
        Slots before;
        lock (_swapGate)
        {
            if (_disposed)
            {
                candidate.Retire();
                throw new ObjectDisposedException(nameof(ModelRuntime));
            }

            before = _slots;
            evicted = before.Previous;
            Volatile.Write(ref _slots, new Slots(candidate, before.Active));
        }

        // Outside the gate: the evicted session is disposed by its last in-flight request, or now.
        evicted?.Retire();
        InferenceLog.ModelActivated(_logger, version, spec.Name, before.Active?.Version, evicted?.Version);
        return candidate.Info;
    }

    public ModelVersionInfo Rollback()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Slots after;
        lock (_swapGate)
        {
            var before = _slots;
            if (before.Previous is null || before.Active is null)
            {
                throw new InvalidOperationException("There is no previous model version to roll back to.");
            }

            after = new Slots(before.Previous, before.Active);
            Volatile.Write(ref _slots, after);
        }

        InferenceLog.ModelRolledBack(_logger, after.Active!.Version, after.Previous!.Version);
        return after.Active.Info;
    }

    public Prediction Predict(ReadOnlySpan<float> sample, Span<float> probabilities)
    {
        var model = AcquireActiveModel();
        try
        {
            return model.Run(sample, probabilities);
        }
        finally
        {
            model.Release();
        }
    }

    public Prediction Predict(ReadOnlySpan<byte> sample, Span<float> probabilities)
    {
        var model = AcquireActiveModel();
        try
        {
            return model.Run(sample, probabilities);
        }
        finally
        {
            model.Release();
        }
    }

    public ModelLease AcquireActive() => new(AcquireActiveModel());

    public void Dispose()
    {
        Slots last;
        lock (_swapGate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            last = _slots;
            Volatile.Write(ref _slots, Slots.Empty);
        }

        last.Active?.Retire();
        last.Previous?.Retire();
    }

    private LoadedModel AcquireActiveModel()
    {
        while (true)
        {
            var model = Volatile.Read(ref _slots).Active
                ?? throw new InvalidOperationException("No model version is active yet.");

            // Fails only if this model was evicted and fully released between the read and now;
            // by then _slots names a newer active model, so the retry makes progress.
            if (model.TryAcquire())
            {
                return model;
            }
        }
    }

    private sealed record Slots(LoadedModel? Active, LoadedModel? Previous)
    {
        public static Slots Empty { get; } = new(null, null);
    }
}
