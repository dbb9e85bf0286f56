namespace Fractal.Agent.Sync.Buffer;

/// <summary>A unit of work for the buffer's single writer; completed only after its group commit.</summary>
internal abstract class WorkItem
{
    public abstract void Fail(Exception error);
}

internal sealed class AppendWork(AppendRequest request, long receivedAtUnixMs) : WorkItem
{
    public AppendRequest Request { get; } = request;

    public long ReceivedAtUnixMs { get; } = receivedAtUnixMs;

    public long QuotaBytes => BufferAccounting.QuotaBytes(Request.Values.Length, Request.Shape.Length);

    public TaskCompletionSource<AppendOutcome> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override void Fail(Exception error) => Completion.TrySetException(error);
}

internal sealed class DeadLetterWork(DeadLetter deadLetter, long receivedAtUnixMs) : WorkItem
{
    public DeadLetter DeadLetter { get; } = deadLetter;

    public long ReceivedAtUnixMs { get; } = receivedAtUnixMs;

    public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override void Fail(Exception error) => Completion.TrySetException(error);
}

internal sealed class CheckpointWork(string uplink, string stream, ulong sequence) : WorkItem
{
    public string Uplink { get; } = uplink;

    public string Stream { get; } = stream;

    public ulong Sequence { get; } = sequence;

    public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override void Fail(Exception error) => Completion.TrySetException(error);
}

internal sealed class MaintenanceWork : WorkItem
{
    public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override void Fail(Exception error) => Completion.TrySetException(error);
}
