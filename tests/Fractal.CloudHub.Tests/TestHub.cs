using System.Runtime.InteropServices;
using Fractal.CloudHub.DataLake;
using Fractal.CloudHub.Hosting;
using Fractal.Contracts.Ingest;
using Fractal.Testing;
using Google.Protobuf;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Fractal.CloudHub.Tests;

/// <summary>A real hub on in-process Kestrel, 127.0.0.1 port 0, with its own lake directory.</summary>
internal sealed class TestHub : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TestDirectory? _ownedDirectory;

    private TestHub(WebApplication app, string lakeRoot, TestDirectory? ownedDirectory)
    {
        _app = app;
        _ownedDirectory = ownedDirectory;
        LakeRoot = lakeRoot;
        var endpoints = app.Services.GetRequiredService<HubEndpoints>();
        GrpcAddress = endpoints.GrpcAddress;
        HttpAddress = endpoints.HttpAddress!;
        Channel = GrpcChannel.ForAddress(GrpcAddress, new GrpcChannelOptions { MaxSendMessageSize = null });
        Client = new IngestService.IngestServiceClient(Channel);
        Http = new HttpClient { BaseAddress = HttpAddress };
    }

    public string LakeRoot { get; }

    public Uri GrpcAddress { get; }

    public Uri HttpAddress { get; }

    public GrpcChannel Channel { get; }

    public IngestService.IngestServiceClient Client { get; }

    public HttpClient Http { get; }

    public ILakeReader Lake => _app.Services.GetRequiredService<ILakeReader>();

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts a hub; <paramref name="lakeRoot"/> null means a fresh directory removed on dispose.</summary>
    public static async Task<TestHub> StartAsync(string? lakeRoot = null, params string[] extraArgs)
    {
        TestDirectory? owned = null;
        if (lakeRoot is null)
        {
            owned = new TestDirectory("hub");
            lakeRoot = owned.Combine("lake");
        }

        string[] args =
        [
            "--Hub:GrpcUrl=http://127.0.0.1:0",
            "--Hub:HttpUrl=http://127.0.0.1:0",
            $"--DataLake:Root={lakeRoot}",
            "--Logging:LogLevel:Default=Warning",
            .. extraArgs,
        ];
        var app = FractalHubApplication.Build(args);
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return new TestHub(app, lakeRoot, owned);
    }

    /// <summary>Uploads batches on one call and returns the acks (one per batch, in order).</summary>
    public async Task<List<BatchAck>> UploadAsync(params RecordBatch[] batches)
    {
        using var call = Client.Upload(cancellationToken: Timeout());
        var acks = new List<BatchAck>();
        foreach (var batch in batches)
        {
            await call.RequestStream.WriteAsync(batch);
            Assert.True(await call.ResponseStream.MoveNext(Timeout()), "the hub closed the stream without an ack");
            acks.Add(call.ResponseStream.Current);
        }

        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext(Timeout()));
        return acks;
    }

    public async Task<List<LakeRecord>> ReadAllRecordsAsync(string? stream = null, string? nodeId = null)
    {
        var records = new List<LakeRecord>();
        await foreach (var record in Lake.ReadRecordsAsync(stream, nodeId, Timeout()))
        {
            records.Add(record);
        }

        return records;
    }

    public static CancellationToken Timeout() => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Channel.Dispose();
        await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await _app.DisposeAsync();
        _ownedDirectory?.Dispose();
    }
}

/// <summary>Builds contract messages for tests.</summary>
internal static class Records
{
    public static readonly DateTimeOffset BaseTime = new(2026, 11, 28, 10, 0, 0, TimeSpan.Zero);

    /// <summary>A batch of sequences [first, last], each a 2x3 tensor whose values encode the sequence.</summary>
    public static RecordBatch Batch(string node, string stream, ulong first, ulong last)
    {
        var batch = new RecordBatch { NodeId = node, Stream = stream };
        for (var s = first; s <= last; s++)
        {
            batch.Records.Add(Record(s));
        }

        return batch;
    }

    public static SensorRecord Record(ulong sequence, int[]? shape = null, float[]? values = null, int? label = null, DateTimeOffset? at = null)
    {
        shape ??= [2, 3];
        values ??= Enumerable.Range(0, shape.Aggregate(1, (a, b) => a * b)).Select(i => (float)sequence + (i / 10f)).ToArray();
        var record = new SensorRecord
        {
            Sequence = sequence,
            TimestampUnixMs = (at ?? BaseTime.AddSeconds(sequence)).ToUnixTimeMilliseconds(),
            Values = Floats(values),
            Priority = (int)(sequence % 3),
        };
        record.Shape.AddRange(shape);
        if (label is not null)
        {
            record.Label = label.Value;
        }
        else if (sequence % 2 == 0)
        {
            record.Label = (int)(sequence % 10);
        }

        return record;
    }

    public static ByteString Floats(float[] values) => ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
}
