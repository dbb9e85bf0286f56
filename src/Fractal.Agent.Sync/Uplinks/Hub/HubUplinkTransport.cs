using Fractal.Contracts.Ingest;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync.Uplinks.Hub;

/// <summary>
/// Uploads batches over one long-lived bidirectional gRPC stream to the hub; each batch waits
/// for its ack, which the hub sends only after the batch is durable in the lake.
/// </summary>
internal sealed class HubUplinkTransport : IUplinkTransport, IAsyncDisposable
{
    private static readonly TimeSpan ShutdownPatience = TimeSpan.FromSeconds(2);
    private readonly GrpcChannel _channel;
    private readonly IngestService.IngestServiceClient _client;
    private AsyncDuplexStreamingCall<RecordBatch, BatchAck>? _call;

    public HubUplinkTransport(IOptions<HubUplinkOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _channel = GrpcChannel.ForAddress(options.Value.Address, new GrpcChannelOptions
        {
            MaxSendMessageSize = options.Value.MaxMessageBytes,
            HttpHandler = new SocketsHttpHandler
            {
                // Cellular links drop idle connections silently; pings find out before a batch does.
                KeepAlivePingDelay = TimeSpan.FromSeconds(30),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
                PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
                EnableMultipleHttp2Connections = true,
                ConnectTimeout = TimeSpan.FromSeconds(10),
            },
        });
        _client = new IngestService.IngestServiceClient(_channel);
    }

    public string Name => "hub";

    public async Task SendBatchAsync(RecordBatch batch, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        // One batch in flight at a time (the worker awaits each), so the next ack on the stream is ours.
        var call = _call ??= _client.Upload(cancellationToken: CancellationToken.None);
        try
        {
            await call.RequestStream.WriteAsync(batch, cancellationToken);
            if (!await call.ResponseStream.MoveNext(cancellationToken))
            {
                throw new RpcException(new Status(StatusCode.Unavailable, "The hub closed the upload stream without acknowledging the batch."));
            }

            var ack = call.ResponseStream.Current;
            var last = batch.Records[^1].Sequence;
            if (ack.Stream != batch.Stream || ack.LastSequence != last)
            {
                throw new RpcException(new Status(StatusCode.DataLoss, $"The hub acknowledged {ack.Stream}#{ack.LastSequence}, expected {batch.Stream}#{last}."));
            }
        }
        catch
        {
            // The stream's state is unknown after any failure: start a fresh one for the retry.
            _call = null;
            call.Dispose();
            throw;
        }
    }

    public async Task SendLossesAsync(LossReport report, CancellationToken cancellationToken)
    {
        await _client.ReportLossesAsync(report, cancellationToken: cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_call is { } call)
        {
            try
            {
                // End the stream the way the protocol expects: complete our side, then read the
                // hub's end. Disposing without reading resets the HTTP/2 stream, which the hub
                // logs as an error at every agent shutdown.
                await call.RequestStream.CompleteAsync();
                using var patience = new CancellationTokenSource(ShutdownPatience);
                while (await call.ResponseStream.MoveNext(patience.Token))
                {
                    // No batch is in flight when the uplink stops; nothing is expected here.
                }
            }
            catch (Exception ex) when (ex is RpcException or InvalidOperationException or IOException or OperationCanceledException)
            {
                // Already broken, or the hub is gone: nothing left to close cleanly.
            }

            call.Dispose();
        }

        _channel.Dispose();
    }
}
