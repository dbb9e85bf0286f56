using Fractal.Benchmarks;

// Benchmarks of the edge data path (issue 2). Each command measures the candidate and its
// baseline side by side in the same run, on the same disk and servers, and prints Markdown
// tables with the ratio; bench/run.sh runs them all and collects the output.
var commands = new Dictionary<string, Func<BenchArgs, Task>>(StringComparer.Ordinal)
{
    ["buffer"] = BufferBenchmark.RunAsync,
    ["mqtt"] = MqttBenchmark.RunAsync,
    ["drain"] = DrainBenchmark.RunAsync,
    ["memory"] = MemoryBenchmark.RunAsync,
    ["training"] = Fractal.Benchmarks.Learning.TrainingBenchmark.RunAsync,
    ["inference"] = Fractal.Benchmarks.Learning.InferenceBenchmark.RunAsync,
};

if (args.Length == 0 || !commands.TryGetValue(args[0], out var command))
{
    await Console.Error.WriteLineAsync($"""
        usage: Fractal.Benchmarks <{string.Join('|', commands.Keys)}> [--option value ...]
          buffer  --records 50000 --values 16 --rounds 3 --producers 64,1000
          mqtt    --messages 100000 --values 16 --rounds 3 --warmup 1 --publishers 1,4 --inflight 10,100 --ids true,false
                  [--agent <published fractal-agent>: the agent as its own process instead of in this one]
          drain   --records 50000 --values 16 --rounds 2 --batch 500 --uplinks null,hub,kafka-lz4,kafka-zstd,s3-gzip
          memory  --agent <fractal-agent.dll> --idle 10 --load 30 --rate 0 --modes embedded,broker --variants default,gen0-4mb,...
          training  --models mlp,cnn --batch 64 --steps 40 --rounds 7 --threads 1
          inference --models mlp,cnn --calls 20000 --threads 1 --during-training true --phases 3
        Options may also be given as FRACTAL_BENCH_<OPTION> environment variables.
        """);
    return 2;
}

var options = BenchArgs.Parse(args.AsSpan(1));
Report.Heading(args[0], options);
await command(options);
return 0;
