using Fractal.Agent.Sync.Uplinks;
using Fractal.Agent.Sync.Uplinks.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync.Tests.Kafka;

public sealed class KafkaUplinkRegistrationTests
{
    [Fact]
    public void AddKafkaUplink_BootstrapServersSetTwice_RegistersOneKafkaTransport()
    {
        var configuration = Configuration(("Uplinks:Kafka:BootstrapServers", "127.0.0.1:9092"), ("Uplinks:Kafka:Compression", "Zstd"));
        using var provider = new ServiceCollection().AddLogging().AddKafkaUplink(configuration).AddKafkaUplink(configuration).BuildServiceProvider();

        var transport = Assert.Single(provider.GetServices<IUplinkTransport>());
        Assert.Equal("kafka", transport.Name);
        Assert.Equal(KafkaUplinkCompression.Zstd, provider.GetRequiredService<IOptions<KafkaUplinkOptions>>().Value.Compression);
    }

    [Fact]
    public void AddKafkaUplink_BootstrapServersEmpty_RegistersNoTransport()
    {
        using var provider = new ServiceCollection().AddLogging().AddKafkaUplink(Configuration()).BuildServiceProvider();

        Assert.Empty(provider.GetServices<IUplinkTransport>());
    }

    [Theory]
    [InlineData("Uplinks:Kafka:RecordsTopic", "bad topic!")]
    [InlineData("Uplinks:Kafka:LossesTopic", "fractal.records")]
    [InlineData("Uplinks:Kafka:Properties:enable.idempotence", "false")]
    [InlineData("Uplinks:Kafka:MessageTimeout", "00:00:00.001")]
    public void AddKafkaUplink_InvalidValue_ValidationNamesTheKey(string key, string value)
    {
        var configuration = Configuration(("Uplinks:Kafka:BootstrapServers", "127.0.0.1:9092"), (key, value));
        using var provider = new ServiceCollection().AddLogging().AddKafkaUplink(configuration).BuildServiceProvider();

        // Field rules (annotations) name the full key and value; cross-field rules (the validator) the member.
        var ex = Assert.ThrowsAny<Exception>(() => provider.GetRequiredService<IOptions<KafkaUplinkOptions>>().Value);
        Assert.True(ex is OptionsValidationException or ConfigurationValueException, ex.ToString());
        var member = key.Split(':')[2];
        Assert.Contains(member, ex.Message, StringComparison.Ordinal);
        if (ex is ConfigurationValueException config)
        {
            Assert.Equal(key, config.Key);
            Assert.Contains($"='{value}'", config.Message.Replace("0010000", "001", StringComparison.Ordinal), StringComparison.Ordinal);
        }
    }

    private static IConfiguration Configuration(params (string Key, string Value)[] values)
        => new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();
}
