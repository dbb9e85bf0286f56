using System.Globalization;
using Fractal.Agent.Sync.Buffer;
using Fractal.Agent.Sync.Mqtt;
using Fractal.Agent.Sync.Uplinks;
using Fractal.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Fractal.Agent.Sync.Tests.Configuration;

/// <summary>
/// A bad value stops the start with a message naming the full key and the value, through the
/// source-generated binder and the validation the AOT-compiled agent runs.
/// </summary>
public sealed class ConfigurationValidationTests : IDisposable
{
    private readonly TestDirectory _dir = new("config-validation");

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("Buffer:QuotaBytes", "10", "Buffer:QuotaBytes='10'")]
    [InlineData("Buffer:GroupCommitDelay", "00:00:01", "Buffer:GroupCommitDelay='00:00:01'")]
    [InlineData("Buffer:GroupCommitDelay", "-00:00:00.001", "Buffer:GroupCommitDelay='-00:00:00.0010000'")]
    [InlineData("Mqtt:EmbeddedPort", "70000", "Mqtt:EmbeddedPort='70000'")]
    [InlineData("Mqtt:ReadCoalescing", "00:00:01", "Mqtt:ReadCoalescing='00:00:01'")]
    [InlineData("Mqtt:ReadCoalescing", "-00:00:00.001", "Mqtt:ReadCoalescing='-00:00:00.0010000'")]
    [InlineData("Mqtt:SocketBufferBytes", "1024", "Mqtt:SocketBufferBytes='1024'")]
    [InlineData("Mqtt:SocketBufferBytes", "-1", "Mqtt:SocketBufferBytes='-1'")]
    [InlineData("Uplinks:hub:AttemptTimeout", "00:00:00.001", "Uplinks:hub:AttemptTimeout='00:00:00.0010000'")]
    [InlineData("Uplinks:kafka:BreakDuration", "02:00:00", "Uplinks:kafka:BreakDuration='02:00:00'")]
    public async Task Start_ValueOutOfRange_ThrowsNamingKeyAndValue(string key, string value, string expected)
    {
        var error = await StartExpectingConfigurationErrorAsync(new Dictionary<string, string?> { [key] = value });
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_TimeSpanOutOfRange_MessageGivesTheAllowedRange()
    {
        var error = await StartExpectingConfigurationErrorAsync(new Dictionary<string, string?> { ["Uplinks:hub:RetryMaxDelay"] = "1.00:00:00" });
        Assert.Equal("Uplinks:hub:RetryMaxDelay", error.Key);
        Assert.Contains("between 00:00:00.0010000 and 01:00:00", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_ValuesInRange_BindsThemThroughTheGeneratedBinder()
    {
        var port = FreePort.Next();
        await using var agent = await TestAgentHost.StartAsync(_dir.Path, new Dictionary<string, string?>
        {
            ["Mqtt:EmbeddedPort"] = port.ToString(CultureInfo.InvariantCulture),
            ["Buffer:QuotaBytes"] = "33554432",
            ["Uplinks:hub:AttemptTimeout"] = "00:00:02",
            ["Mqtt:ReadCoalescing"] = "00:00:00.003",
            ["Mqtt:SocketBufferBytes"] = "65536",
        });
        var buffer = agent.Services.GetRequiredService<IOptions<BufferOptions>>().Value;
        var hub = agent.Services.GetRequiredService<IOptionsMonitor<UplinkDeliveryOptions>>().Get("hub");
        var mqtt = agent.Services.GetRequiredService<IOptions<MqttIngestOptions>>().Value;
        Assert.Equal(33_554_432, buffer.QuotaBytes);
        Assert.Equal(TimeSpan.FromSeconds(2), hub.AttemptTimeout);
        Assert.Equal(port, mqtt.EmbeddedPort);
        Assert.Equal(TimeSpan.FromMilliseconds(3), mqtt.ReadCoalescing);
        Assert.Equal(65_536, mqtt.SocketBufferBytes);
    }

    [Theory]
    [InlineData("00:00:01", true)]
    [InlineData("00:10:00", true)]
    [InlineData("00:00:00.999", false)]
    [InlineData("00:10:00.001", false)]
    public void TimeSpanRange_Bounds_AreInclusive(string value, bool valid)
    {
        var range = new TimeSpanRangeAttribute("00:00:01", "00:10:00");
        Assert.Equal(valid, range.IsValid(TimeSpan.Parse(value, CultureInfo.InvariantCulture)));
    }

    [Fact]
    public void TimeSpanRange_NotATimeSpan_IsInvalid()
    {
        var range = new TimeSpanRangeAttribute("00:00:01", "00:10:00");
        Assert.False(range.IsValid(5));
        Assert.True(range.IsValid(null));
        Assert.Throws<ArgumentException>(() => new TimeSpanRangeAttribute("00:10:00", "00:00:01"));
    }

    private async Task<ConfigurationValueException> StartExpectingConfigurationErrorAsync(Dictionary<string, string?> settings)
    {
        settings.TryAdd("Mqtt:EmbeddedPort", FreePort.Next().ToString(CultureInfo.InvariantCulture));
        var thrown = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var agent = await TestAgentHost.StartAsync(_dir.Path, settings);
        });
        for (Exception? e = thrown; e is not null; e = e.InnerException ?? (e as AggregateException)?.InnerExceptions.FirstOrDefault())
        {
            if (e is ConfigurationValueException config)
            {
                return config;
            }
        }

        throw new Xunit.Sdk.XunitException($"expected a ConfigurationValueException, got {thrown}");
    }
}
