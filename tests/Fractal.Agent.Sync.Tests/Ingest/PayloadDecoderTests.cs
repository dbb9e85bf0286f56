using System.Buffers.Binary;
using System.Text;
using Fractal.Agent.Sync.Buffer;
using Fractal.Agent.Sync.Ingest;

namespace Fractal.Agent.Sync.Tests.Ingest;

public sealed class PayloadDecoderTests
{
    private static readonly StreamCatalog Catalog = new(new Dictionary<string, StreamPolicy>
    {
        ["temp"] = new StreamPolicy { MaxPayloadBytes = 4096 },
        ["camera"] = new StreamPolicy { Shape = [4, 4] },
        ["wide"] = new StreamPolicy(),
    });

    private static IngestMessage Json(string stream, string json) => new($"fractal/sensors/{stream}", Encoding.UTF8.GetBytes(json));

    private static float[] Floats(byte[] values)
    {
        var result = new float[values.Length / 4];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = BinaryPrimitives.ReadSingleLittleEndian(values.AsSpan(i * 4));
        }

        return result;
    }

    [Theory]
    [InlineData("""{"values":[1.5,2,-3e2]}""", new[] { 1.5f, 2f, -300f })]
    [InlineData("""{"value":21.5}""", new[] { 21.5f })]
    [InlineData("""[1,2,3]""", new[] { 1f, 2f, 3f })]
    [InlineData("""{"ts":"2026-11-28T10:00:00Z","unit":{"name":"C"},"values":[0.25]}""", new[] { 0.25f })]
    public void TryDecode_JsonReadings_DecodeToFloat32Values(string json, float[] expected)
    {
        Assert.True(PayloadDecoder.TryDecode(Json("temp", json), Catalog, out var request, out var reason), reason);
        Assert.Equal(expected, Floats(request!.Values));
        Assert.Equal([expected.Length], request.Shape);
    }

    [Fact]
    public void TryDecode_JsonWithShapeLabelAndId_KeepsThem()
    {
        var json = """{"values":[1,2,3,4,5,6],"shape":[2,3],"label":7,"id":"sensor-1/42"}""";
        Assert.True(PayloadDecoder.TryDecode(Json("temp", json), Catalog, out var request, out var reason), reason);
        Assert.Equal([2, 3], request!.Shape);
        Assert.Equal(7, request.Label);
        Assert.Equal("sensor-1/42", request.SourceId);
    }

    [Fact]
    public void TryDecode_EscapedPropertyNames_AreTheSameFields()
    {
        // JSON allows any character of a name to be escaped: "\u0076alues" is "values".
        const string json = """{"\u0076alues":[1,2],"l\u0061bel":4,"\u0069d":"e-1"}""";

        Assert.True(PayloadDecoder.TryDecode(Json("temp", json), Catalog, out var request, out var reason), reason);

        Assert.Equal([1f, 2f], Floats(request!.Values));
        Assert.Equal(4, request.Label);
        Assert.Equal("e-1", request.SourceId);
    }

    [Fact]
    public void TryDecode_ManyReadingsInARow_EachKeepsOnlyItsOwnValues()
    {
        // The decoder reuses a list per thread; a large reading, then small ones, then a failure.
        var big = "[" + string.Join(',', Enumerable.Range(0, 5000)) + "]";
        Assert.True(PayloadDecoder.TryDecode(Json("wide", big), Catalog, out var first, out var reason), reason);
        Assert.False(PayloadDecoder.TryDecode(Json("temp", """{"values":[1,2,"x"]}"""), Catalog, out _, out _));
        Assert.True(PayloadDecoder.TryDecode(Json("temp", """{"values":[7,8,9]}"""), Catalog, out var second, out reason), reason);

        Assert.Equal(5000, Floats(first!.Values).Length);
        Assert.Equal([7f, 8f, 9f], Floats(second!.Values));
    }

    [Fact]
    public void TryDecode_BinaryF32Tensor_WithShapeProperty_Decodes()
    {
        var payload = new byte[16 * 4];
        BinaryPrimitives.WriteSingleLittleEndian(payload.AsSpan(60), 9.5f);
        var message = new IngestMessage("fractal/sensors/camera", payload, IngestMessage.TensorContentType, [new("shape", "4x4"), new("label", "3")]);

        Assert.True(PayloadDecoder.TryDecode(message, Catalog, out var request, out var reason), reason);
        Assert.Equal([4, 4], request!.Shape);
        Assert.Equal(9.5f, Floats(request.Values)[15]);
        Assert.Equal(3, request.Label);
    }

    [Fact]
    public void TryDecode_BinaryU8Tensor_ConvertsToFloat()
    {
        var payload = Enumerable.Range(0, 16).Select(i => (byte)(i * 10)).ToArray();
        var message = new IngestMessage("fractal/sensors/camera", payload, null, [new("shape", "4,4"), new("dtype", "u8")]);

        Assert.True(PayloadDecoder.TryDecode(message, Catalog, out var request, out var reason), reason);
        Assert.Equal(150f, Floats(request!.Values)[15]);
    }

    [Theory]
    [InlineData("fractal/sensors/temp", "{\"values\":[1,2", "malformed JSON")]
    [InlineData("fractal/sensors/temp", "{\"values\":[1,\"x\"]}", "arrays must hold finite numbers only")]
    [InlineData("fractal/sensors/temp", "{\"values\":[1e999]}", "arrays must hold finite numbers only")]
    [InlineData("fractal/sensors/temp", "{\"values\":[[[[[1]]]]]}", "arrays must hold finite numbers only")]
    [InlineData("fractal/sensors/temp", "{\"values\":[1,2,3],\"shape\":[2,2]}", "does not hold 3 values")]
    [InlineData("fractal/sensors/temp", "{\"values\":[1],\"shape\":[-1]}", "'shape' must be")]
    [InlineData("fractal/sensors/temp", "{\"values\":[1],\"label\":-4}", "'label' must be")]
    [InlineData("fractal/sensors/temp", "{\"values\":[]}", "no values")]
    [InlineData("fractal/sensors/temp", "{\"other\":1}", "neither 'values' nor 'value'")]
    [InlineData("fractal/sensors/temp", "\"hello\"", "object or an array")]
    [InlineData("fractal/sensors/temp", "[1] [2]", "malformed JSON")]
    [InlineData("fractal/sensors/camera", "[1,2,3]", "does not match the stream's shape")]
    [InlineData("fractal/sensors/nope", "[1]", "unknown stream 'nope'")]
    [InlineData("fractal/sensors/../etc", "[1]", "is not fractal/sensors/{stream}")]
    [InlineData("fractal/sensors/a/b", "[1]", "is not fractal/sensors/{stream}")]
    [InlineData("other/topic", "[1]", "is not fractal/sensors/{stream}")]
    public void TryDecode_BadInput_IsRejectedWithAClearReason(string topic, string payload, string expectedReason)
    {
        var ok = PayloadDecoder.TryDecode(new IngestMessage(topic, Encoding.UTF8.GetBytes(payload)), Catalog, out var request, out var reason);

        Assert.False(ok);
        Assert.Null(request);
        Assert.Contains(expectedReason, reason, StringComparison.Ordinal);
    }

    [Fact]
    public void TryDecode_OversizedPayload_IsRejectedBeforeParsing()
    {
        var big = "[" + string.Join(',', Enumerable.Repeat("1", 3000)) + "]";
        Assert.False(PayloadDecoder.TryDecode(Json("temp", big), Catalog, out _, out var reason));
        Assert.Contains("exceeds the stream's limit of 4096", reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("4x4", "f32", 63, "needs 64 bytes of f32, got 63")]
    [InlineData("4x4", "f64", 64, "unsupported dtype 'f64'")]
    [InlineData("65536x65536", "f32", 64, "has more than")]
    [InlineData("0x4", "f32", 4, "must be positive integers")]
    [InlineData("1x1x1x1x1x1x1x1x1", "f32", 4, "1 to 8 dimensions")]
    public void TryDecode_BadTensor_IsRejected(string shape, string dtype, int bytes, string expectedReason)
    {
        var message = new IngestMessage("fractal/sensors/temp", new byte[bytes], IngestMessage.TensorContentType, [new("shape", shape), new("dtype", dtype)]);
        Assert.False(PayloadDecoder.TryDecode(message, Catalog, out _, out var reason));
        Assert.Contains(expectedReason, reason, StringComparison.Ordinal);
    }

    [Fact]
    public void TryDecode_NonFiniteBinaryValue_IsRejected()
    {
        var payload = new byte[16 * 4];
        BinaryPrimitives.WriteSingleLittleEndian(payload.AsSpan(8), float.NaN);
        var message = new IngestMessage("fractal/sensors/camera", payload, IngestMessage.TensorContentType, [new("shape", "4x4")]);

        Assert.False(PayloadDecoder.TryDecode(message, Catalog, out _, out var reason));
        Assert.Equal("non-finite value at index 2", reason);
    }
}
