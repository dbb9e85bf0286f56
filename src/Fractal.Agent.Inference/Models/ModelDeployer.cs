using Fractal.Learning.Specs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Inference.Models;

internal sealed class ModelDeployer(IModelRuntime runtime, IOptions<InferenceOptions> options, ILogger<ModelDeployer> logger) : IModelDeployer
{
    private readonly ModelStore _store = new(options.Value.ModelDirectory);
    private readonly Lock _gate = new();

    public ModelVersionInfo Deploy(string version, string specJson, byte[] onnxModel) =>
        DeployCore(expectedActive: null, version, specJson, onnxModel)!;

    public ModelVersionInfo? DeployReplacing(string expectedActive, string version, string specJson, byte[] onnxModel)
    {
        ArgumentNullException.ThrowIfNull(expectedActive);
        return DeployCore(expectedActive, version, specJson, onnxModel);
    }

    public StagedModel? ReadActive()
    {
        lock (_gate)
        {
            if (runtime.Active?.Version is not { } version)
            {
                return null;
            }

            var (spec, model) = _store.Load(version);
            return new StagedModel(version, spec, model);
        }
    }

    private ModelVersionInfo? DeployCore(string? expectedActive, string version, string specJson, byte[] onnxModel)
    {
        ModelStore.ValidateVersion(version);
        ModelSpec spec;
        try
        {
            spec = ModelSpec.Parse(specJson);
        }
        catch (ModelSpecException ex)
        {
            throw new ModelRejectedException($"Model version '{version}' rejected: invalid spec ({ex.Message}).", ex) { Version = version };
        }

        lock (_gate)
        {
            if (expectedActive is not null && runtime.Active?.Version != expectedActive)
            {
                return null;
            }

            // Activate first: a rejected model must never be staged where a restart would load it.
            var info = runtime.Activate(version, spec, onnxModel);
            System.IO.Directory.CreateDirectory(_store.Directory);
            _store.Stage(version, specJson, onnxModel);
            _store.WritePointers(runtime.Active?.Version, runtime.Previous?.Version);
            return info;
        }
    }

    public ModelVersionInfo Rollback()
    {
        lock (_gate)
        {
            var info = runtime.Rollback();
            _store.WritePointers(runtime.Active?.Version, runtime.Previous?.Version);
            return info;
        }
    }

    public void LoadStaged()
    {
        lock (_gate)
        {
            var active = _store.ReadPointer(ModelStore.ActivePointer);
            if (active is null)
            {
                InferenceLog.NoStagedModel(logger, _store.Directory);
                return;
            }

            var previous = _store.ReadPointer(ModelStore.PreviousPointer);
            if (previous is not null && previous != active)
            {
                TryActivateStaged(previous);
            }

            TryActivateStaged(active);
        }
    }

    private void TryActivateStaged(string version)
    {
        try
        {
            var (spec, model) = _store.Load(version);
            runtime.Activate(version, spec, model);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ModelSpecException or ModelRejectedException or ArgumentException)
        {
            // A damaged staged version must not stop the daemon: the hub redeploys, and the
            // other staged version (if any) keeps serving.
            InferenceLog.StagedModelFailed(logger, ex, version, _store.Directory);
        }
    }
}
