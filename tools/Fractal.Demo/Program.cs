using System.Globalization;
using Fractal.Agent.Inference.Models;
using Fractal.Agent.Sync;
using Fractal.Agent.Sync.Buffer;
using Fractal.CloudHub;
using Fractal.CloudHub.DataLake;
using Fractal.CloudHub.Hosting;
using Fractal.Demo;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// The main job on embedded defaults: hub + agent + simulated sensors in one process, no servers.
// The agent runs a freshly trained model on the camera stream and publishes its predictions.
// Ends by itself after --seconds (default 20) or on Ctrl-C, and prints what reached the lake.
var seconds = args.Length >= 2 && args[0] == "--seconds" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 20;
var root = Path.GetFullPath(Path.Combine("data", "demo"));
if (Directory.Exists(root))
{
    Directory.Delete(root, recursive: true); // each run starts fresh, so the command is repeatable
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

var hub = FractalHubApplication.Build(["--Hub:GrpcUrl=http://127.0.0.1:0", "--Hub:HttpUrl=http://127.0.0.1:0", $"--DataLake:Root={Path.Combine(root, "lake")}", "--Logging:LogLevel:Default=Warning"]);
await hub.StartAsync();
var endpoints = hub.Services.GetRequiredService<HubEndpoints>();

var mqttPort = FreeTcpPort();
var agentBuilder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
agentBuilder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
{
    ["Agent:StateDirectory"] = Path.Combine(root, "agent"),
    ["Agent:NodeId"] = "demo-node",
    ["Mqtt:EmbeddedPort"] = mqttPort.ToString(CultureInfo.InvariantCulture),
    ["Metrics:Port"] = "0",
    ["Uplinks:Hub:Address"] = endpoints.GrpcAddress.ToString(),
    ["Streams:temperature:Priority"] = "5",
    ["Streams:camera:Priority"] = "1",
    ["Streams:camera:Shape:0"] = "28",
    ["Streams:camera:Shape:1"] = "28",
    ["Streams:camera:WhenFull"] = "EvictOldest",
    ["Streams:camera:TrainingReservoir"] = "500",
    ["Streams:camera:Inference"] = "true",
});
agentBuilder.Logging.AddConsole().SetMinimumLevel(LogLevel.Warning);
agentBuilder.Services.AddFractalSync(agentBuilder.Configuration);
agentBuilder.Services.AddFractalInference(agentBuilder.Configuration);
agentBuilder.Services.AddFractalPredictions();
agentBuilder.Services.AddFractalLocalRetraining();
using var agent = agentBuilder.Build();
await agent.StartAsync();
var buffer = agent.Services.GetRequiredService<DurableBuffer>();

// What the hub would roll out: a model trained on images the camera never shows.
var model = DemoModel.Train(SensorSimulator.TrainingImages(10_000), new SensorSimulator(mqttPort).CameraImages());
agent.Services.GetRequiredService<IModelDeployer>().Deploy(DemoModel.Version, model.SpecJson, model.Onnx);
await using var predictions = await PredictionCounter.StartAsync(mqttPort, stop.Token);
var lake = hub.Services.GetRequiredService<ILakeReader>();

Console.WriteLine($"Fractal demo: hub gRPC {endpoints.GrpcAddress}, REST {endpoints.HttpAddress}api/lake/summary");
Console.WriteLine($"              agent MQTT 127.0.0.1:{mqttPort}, buffer {buffer.FilePath}");
var simulator = new SensorSimulator(mqttPort);
Console.WriteLine($"              sensors: thermometer (JSON, 50/s) and camera ({seconds}s of 28x28 frames, 25/s)");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"              model {DemoModel.Version} on the node: MLP 784-200-200-10 trained on {model.TrainingImages:N0} other images in {model.TrainingTime.TotalSeconds:F1}s"));
Console.WriteLine("              predictions on fractal/predictions/camera");
Console.WriteLine();
Console.WriteLine("  time  published  acked  buffered  in lake  predicted");

var sensors = simulator.RunAsync(TimeSpan.FromSeconds(seconds), stop.Token);
var clock = System.Diagnostics.Stopwatch.StartNew();
try
{
    using var tick = new PeriodicTimer(TimeSpan.FromSeconds(2));
    while (await tick.WaitForNextTickAsync(stop.Token))
    {
        var summary = await lake.GetSummaryAsync(stop.Token);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalSeconds,5:F0}s {simulator.Published,10} {simulator.Acknowledged,6} {buffer.GetStats().BufferedRecords,9} {summary.TotalRecords,8} {predictions.Received,10}"));
        if (sensors.IsCompleted && buffer.GetStats().BufferedRecords == 0)
        {
            break;
        }
    }
}
catch (OperationCanceledException)
{
    Console.WriteLine("Stopping (Ctrl-C).");
}

try
{
    await sensors;
}
catch (OperationCanceledException)
{
    // Ctrl-C while publishing.
}

await agent.StopAsync(CancellationToken.None);
var final = await lake.GetSummaryAsync(CancellationToken.None);
await hub.StopAsync(CancellationToken.None);

Console.WriteLine();
Console.WriteLine("Data lake (partitioned Parquet, readable by DuckDB, Spark, pandas):");
Console.WriteLine("  stream        node        records  files  last sequence  lost");
foreach (var p in final.Partitions)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {p.Stream,-12}  {p.NodeId,-10} {p.Records,8} {p.Files,6} {p.HighWaterMark,14} {p.LostRecords,5}"));
}

Console.WriteLine($"  {Path.Combine(root, "lake")}");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Sensors saw {simulator.Acknowledged} of {simulator.Published} messages acknowledged; the lake holds {final.TotalRecords} ({simulator.CameraSource} on the camera)."));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"The node's model predicted {predictions.Received} camera frames; {predictions.Accuracy:P1} matched the frames' labels (same model offline: {model.HeldOutAccuracy:P1})."));
return simulator.Acknowledged == final.TotalRecords || stop.IsCancellationRequested ? 0 : 1;

static int FreeTcpPort()
{
    using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
    listener.Start();
    return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
}
