using Fractal.CloudHub.Ingest.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Fractal.CloudHub.Tests.Kafka;

public sealed class KafkaIngestRegistrationTests
{
    [Fact]
    public void AddKafkaIngest_CalledTwice_RegistersOneHostedConsumerWithBoundOptions()
    {
        var configuration = Configuration(("Ingest:Kafka:BootstrapServers", "127.0.0.1:9092"), ("Ingest:Kafka:GroupId", "hub-a"));
        var services = new ServiceCollection().AddLogging().AddKafkaIngest(configuration).AddKafkaIngest(configuration);

        Assert.Single(services, d => d.ServiceType == typeof(IHostedService));
        using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<IOptions<KafkaIngestOptions>>().Value;
        Assert.Equal("hub-a", options.GroupId);
        Assert.Equal("fractal.records", options.RecordsTopic);
        Assert.True(options.Enabled);
    }

    [Theory]
    [InlineData("Ingest:Kafka:GroupId", "")]
    [InlineData("Ingest:Kafka:RecordsTopic", "no spaces allowed")]
    [InlineData("Ingest:Kafka:LossesTopic", "fractal.records")]
    [InlineData("Ingest:Kafka:Properties:enable.auto.commit", "true")]
    [InlineData("Ingest:Kafka:MaxBatchMessages", "0")]
    public void AddKafkaIngest_InvalidValue_ValidationNamesTheKey(string key, string value)
    {
        using var provider = new ServiceCollection().AddLogging().AddKafkaIngest(Configuration((key, value))).BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<KafkaIngestOptions>>().Value);
        Assert.Contains(key.Split(':')[2], ex.Message, StringComparison.Ordinal);
    }

    private static IConfiguration Configuration(params (string Key, string Value)[] values)
        => new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();
}
