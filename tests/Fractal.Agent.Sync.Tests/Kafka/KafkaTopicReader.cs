using System.Diagnostics;
using Confluent.Kafka;

namespace Fractal.Agent.Sync.Tests.Kafka;

/// <summary>Reads a topic back with a plain Confluent consumer (no group), as a third party would.</summary>
internal static class KafkaTopicReader
{
    public static async Task<IReadOnlyList<ConsumeResult<string, byte[]>>> ReadAsync(string bootstrapServers, string topic, int partitions, int expected, TimeSpan timeout)
    {
        var read = Task.Run(() =>
        {
            using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
            {
                BootstrapServers = bootstrapServers,
                GroupId = "reader-unused",
                EnableAutoCommit = false,
            }).Build();
            consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
            var results = new List<ConsumeResult<string, byte[]>>();
            var elapsed = Stopwatch.StartNew();
            while (results.Count < expected && elapsed.Elapsed < timeout)
            {
                if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { } result)
                {
                    results.Add(result);
                }
            }

            return (IReadOnlyList<ConsumeResult<string, byte[]>>)results;
        });
        return await read.WaitAsync(timeout + TimeSpan.FromSeconds(5));
    }

    /// <summary>Messages stored in the topic (sum of high watermarks): catches duplicates the read did not wait for.</summary>
    public static long CountStored(string bootstrapServers, string topic, int partitions)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrapServers, GroupId = "watermarks-unused" }).Build();
        long total = 0;
        for (var p = 0; p < partitions; p++)
        {
            var w = consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(5));
            total += w.High.Value - w.Low.Value;
        }

        return total;
    }
}
