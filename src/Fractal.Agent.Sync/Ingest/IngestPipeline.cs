using Fractal.Agent.Sync.Buffer;
using Fractal.Agent.Sync.Metrics;
using Microsoft.Extensions.Logging;

namespace Fractal.Agent.Sync.Ingest;

/// <summary>What the agent did with a sensor message; every result is durable when returned.</summary>
public enum IngestResult
{
    /// <summary>Committed to the buffer (or, by policy, kept on the node only).</summary>
    Accepted,

    /// <summary>A redelivery of a message already committed.</summary>
    Duplicate,

    /// <summary>Bad input: kept in the dead-letter store with its reason.</summary>
    DeadLettered,

    /// <summary>Accepted, then given up at once under a full quota: recorded in the loss ledger.</summary>
    Evicted,
}

/// <summary>
/// The one path from any MQTT front end (embedded server or broker subscription) into the
/// buffer: validate, then append or dead-letter. The caller acknowledges only after this returns.
/// </summary>
public sealed class IngestPipeline(DurableBuffer buffer, StreamCatalog catalog, SyncMetrics metrics, ILogger<IngestPipeline> logger)
{
    /// <summary>Raised after a reading is durably accepted (inference and training hook in here).</summary>
    public event Action<AppendRequest>? Accepted;

    public async ValueTask<IngestResult> SubmitAsync(IngestMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (!PayloadDecoder.TryDecode(message, catalog, out var request, out var reason))
        {
            metrics.DeadLettered.WithLabels(ReasonCategory(reason)).Inc();
            IngestLog.DeadLettered(logger, message.Topic, reason);
            await buffer.DeadLetterAsync(new DeadLetter(message.Topic, reason, message.Payload), cancellationToken);
            return IngestResult.DeadLettered;
        }

        metrics.Stream(request!.Stream).Ingested.Inc();
        var outcome = await buffer.AppendAsync(request, cancellationToken);
        switch (outcome.Status)
        {
            case AppendStatus.Duplicate:
                return IngestResult.Duplicate;
            case AppendStatus.EvictedOnArrival:
                return IngestResult.Evicted;
            default:
                NotifyAccepted(request);
                return IngestResult.Accepted;
        }
    }

    /// <summary>
    /// Tells the subscribers (inference, training) about a committed reading. The reading is
    /// durable already: a failing subscriber is logged and must not turn it into a failed
    /// ingest, which would drop the sensor's connection for nothing.
    /// </summary>
    private void NotifyAccepted(AppendRequest request)
    {
        var handlers = Accepted;
        if (handlers is null)
        {
            return;
        }

        // EnumerateInvocationList does not allocate (GetInvocationList would, once per reading).
        foreach (var handler in Delegate.EnumerateInvocationList(handlers))
        {
            try
            {
                handler(request);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                IngestLog.SubscriberFailed(logger, request.Stream, ex);
            }
        }
    }

    /// <summary>A low-cardinality label for the dead-letter counter.</summary>
    internal static string ReasonCategory(string reason) => reason switch
    {
        _ when reason.StartsWith("unknown stream", StringComparison.Ordinal) => "unknown_stream",
        _ when reason.StartsWith("topic", StringComparison.Ordinal) => "bad_topic",
        _ when reason.Contains("exceeds", StringComparison.Ordinal) => "oversized",
        _ when reason.Contains("JSON", StringComparison.Ordinal) => "malformed_json",
        _ when reason.Contains("shape", StringComparison.Ordinal) || reason.Contains("bytes of", StringComparison.Ordinal) => "bad_shape",
        _ => "invalid",
    };
}

internal static partial class IngestLog
{
    [LoggerMessage(2001, LogLevel.Warning, "Dead-lettered a message on {Topic}: {Reason}")]
    public static partial void DeadLettered(ILogger logger, string topic, string reason);

    [LoggerMessage(2002, LogLevel.Error, "A subscriber to accepted readings failed on stream {Stream}; the reading is committed")]
    public static partial void SubscriberFailed(ILogger logger, string stream, Exception exception);
}
