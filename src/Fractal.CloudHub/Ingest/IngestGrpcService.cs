using Fractal.CloudHub.DataLake;
using Fractal.CloudHub.Observability;
using Fractal.Contracts.Ingest;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fractal.CloudHub.Ingest;

/// <summary>
/// The hub's gRPC ingest: nodes stream record batches in and get one acknowledgement per batch,
/// written only after the batch is durable in the lake (so a node may advance its checkpoint on
/// the ack). Invalid input fails the call with <see cref="StatusCode.InvalidArgument"/> and writes
/// nothing of the offending batch.
/// </summary>
internal sealed class IngestGrpcService : IngestService.IngestServiceBase
{
    private readonly IDataLake _lake;
    private readonly IOptions<IngestOptions> _options;
    private readonly ILogger<IngestGrpcService> _logger;

    public IngestGrpcService(IDataLake lake, IOptions<IngestOptions> options, ILogger<IngestGrpcService> logger)
    {
        _lake = lake;
        _options = options;
        _logger = logger;
    }

    public override async Task Upload(IAsyncStreamReader<RecordBatch> requestStream, IServerStreamWriter<BatchAck> responseStream, ServerCallContext context)
    {
        var cancellationToken = context.CancellationToken;
        var options = _options.Value;
        await foreach (var batch in requestStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            var error = IngestValidator.Validate(batch, options);
            if (error is not null)
            {
                HubMetrics.BatchesRejected.WithLabels(nameof(Upload)).Inc();
                IngestLog.BatchRejected(_logger, context.Peer, error);
                throw new RpcException(new Status(StatusCode.InvalidArgument, error));
            }

            LakeAppendResult result;
            try
            {
                result = await _lake.AppendAsync(batch.NodeId, batch.Stream, batch.Records, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException ex)
            {
                // The lake's storage failed (disk full, object store down): nothing was acked, so
                // the node keeps the batch and retries; Unavailable tells it the error is transient.
                IngestLog.LakeWriteFailed(_logger, ex, batch.NodeId, batch.Stream);
                throw new RpcException(new Status(StatusCode.Unavailable, "the data lake could not store the batch; retry later"));
            }

            HubMetrics.BatchesAccepted.Inc();

            // Only now is the batch durable; the ack lets the node advance its checkpoint.
            await responseStream.WriteAsync(
                new BatchAck
                {
                    Stream = batch.Stream,
                    LastSequence = batch.Records[^1].Sequence,
                    Accepted = (uint)result.Accepted,
                    Duplicates = (uint)result.Duplicates,
                },
                cancellationToken).ConfigureAwait(false);
        }
    }

    public override async Task<LossAck> ReportLosses(LossReport request, ServerCallContext context)
    {
        var error = IngestValidator.Validate(request, _options.Value);
        if (error is not null)
        {
            HubMetrics.BatchesRejected.WithLabels(nameof(ReportLosses)).Inc();
            IngestLog.BatchRejected(_logger, context.Peer, error);
            throw new RpcException(new Status(StatusCode.InvalidArgument, error));
        }

        try
        {
            await _lake.AppendLossesAsync(request.NodeId, request.Entries, context.CancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            IngestLog.LakeWriteFailed(_logger, ex, request.NodeId, "(losses)");
            throw new RpcException(new Status(StatusCode.Unavailable, "the data lake could not store the loss report; retry later"));
        }

        return new LossAck { LastLedgerId = request.Entries.Count == 0 ? 0 : request.Entries.Max(e => e.LedgerId) };
    }
}
