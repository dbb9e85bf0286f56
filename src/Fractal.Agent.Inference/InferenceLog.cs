using Microsoft.Extensions.Logging;

namespace Fractal.Agent.Inference;

/// <summary>Log messages of the inference runtime and training jobs.</summary>
internal static partial class InferenceLog
{
    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "Model version {Version} ({ModelName}) is active; previous {Previous}, released {Evicted}")]
    public static partial void ModelActivated(ILogger logger, string version, string modelName, string? previous, string? evicted);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Model version {Version} rejected, {Active} keeps serving: {Reason}")]
    public static partial void ModelRejected(ILogger logger, string version, string? active, string reason);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Rolled back to model version {Version} (from {From})")]
    public static partial void ModelRolledBack(ILogger logger, string version, string from);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "No staged model in {Directory}; inference waits for a deployment")]
    public static partial void NoStagedModel(ILogger logger, string directory);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Error, Message = "Staged model version {Version} in {Directory} could not be loaded")]
    public static partial void StagedModelFailed(ILogger logger, Exception exception, string version, string directory);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Information, Message = "Training job {JobId} started: {Samples} samples, {Epochs} epochs, {Threads} intra-op threads")]
    public static partial void TrainingStarted(ILogger logger, string jobId, int samples, int epochs, int threads);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Information, Message = "Training job {JobId} finished: {Steps} steps, final loss {Loss}")]
    public static partial void TrainingFinished(ILogger logger, string jobId, int steps, double loss);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Information, Message = "Training job {JobId} cancelled")]
    public static partial void TrainingCancelled(ILogger logger, string jobId);

    [LoggerMessage(EventId = 3013, Level = LogLevel.Error, Message = "Training job {JobId} failed")]
    public static partial void TrainingFailed(ILogger logger, Exception exception, string jobId);
}
