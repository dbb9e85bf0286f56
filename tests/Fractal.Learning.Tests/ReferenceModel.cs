using Fractal.Learning.Specs;

namespace Fractal.Learning.Tests;

/// <summary>
/// Independent float64 forward pass and loss of a spec, written as plain loops straight from the
/// layer definitions. Gradient checks differentiate it by central finite differences.
/// </summary>
internal static class ReferenceModel
{
    /// <summary>Logits [batch, classes] for raw inputs <paramref name="x"/> [batch, InputSize].</summary>
    public static double[] Logits(ModelSpec spec, IReadOnlyDictionary<string, double[]> p, float[] x, int batch, IReadOnlyDictionary<int, float[]>? masks = null)
    {
        var a = new double[x.Length];
        for (var i = 0; i < x.Length; i++)
        {
            a[i] = ((double)x[i] * spec.Input.Scale) + spec.Input.Offset;
        }

        for (var l = 0; l < spec.Layers.Count; l++)
        {
            var inShape = spec.ActivationShape(l);
            var outShape = spec.ActivationShape(l + 1);
            var outSize = outShape.Aggregate(1, (s, d) => s * d);
            var inSize = inShape.Aggregate(1, (s, d) => s * d);
            var o = new double[batch * outSize];
            switch (spec.Layers[l])
            {
                case DenseLayer d:
                    {
                        var w = p[$"layers.{l}.weight"];
                        var b = p[$"layers.{l}.bias"];
                        for (var n = 0; n < batch; n++)
                        {
                            for (var u = 0; u < d.Units; u++)
                            {
                                var s = b[u];
                                for (var i = 0; i < inSize; i++)
                                {
                                    s += a[(n * inSize) + i] * w[(u * inSize) + i];
                                }

                                o[(n * outSize) + u] = s;
                            }
                        }

                        break;
                    }

                case Conv2DLayer c:
                    {
                        var w = p[$"layers.{l}.weight"];
                        var b = p[$"layers.{l}.bias"];
                        int cin = inShape[0], h = inShape[1], wd = inShape[2], ho = outShape[1], wo = outShape[2], k = c.Kernel;
                        for (var n = 0; n < batch; n++)
                        {
                            for (var f = 0; f < c.Filters; f++)
                            {
                                for (var oy = 0; oy < ho; oy++)
                                {
                                    for (var ox = 0; ox < wo; ox++)
                                    {
                                        var s = b[f];
                                        for (var ch = 0; ch < cin; ch++)
                                        {
                                            for (var ky = 0; ky < k; ky++)
                                            {
                                                for (var kx = 0; kx < k; kx++)
                                                {
                                                    var iy = (oy * c.Stride) + ky - c.Padding;
                                                    var ix = (ox * c.Stride) + kx - c.Padding;
                                                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd)
                                                    {
                                                        continue;
                                                    }

                                                    s += a[(n * inSize) + (((ch * h) + iy) * wd) + ix] * w[(((((f * cin) + ch) * k) + ky) * k) + kx];
                                                }
                                            }
                                        }

                                        o[(n * outSize) + (((f * ho) + oy) * wo) + ox] = s;
                                    }
                                }
                            }
                        }

                        break;
                    }

                case MaxPool2DLayer m:
                    {
                        int ch = inShape[0], h = inShape[1], wd = inShape[2], ho = outShape[1], wo = outShape[2];
                        for (var n = 0; n < batch; n++)
                        {
                            for (var cc = 0; cc < ch; cc++)
                            {
                                for (var oy = 0; oy < ho; oy++)
                                {
                                    for (var ox = 0; ox < wo; ox++)
                                    {
                                        var best = double.NegativeInfinity;
                                        for (var ky = 0; ky < m.Size; ky++)
                                        {
                                            for (var kx = 0; kx < m.Size; kx++)
                                            {
                                                best = Math.Max(best, a[(n * inSize) + (((cc * h) + (oy * m.Stride) + ky) * wd) + (ox * m.Stride) + kx]);
                                            }
                                        }

                                        o[(n * outSize) + (((cc * ho) + oy) * wo) + ox] = best;
                                    }
                                }
                            }
                        }

                        break;
                    }

                case ReLULayer:
                    for (var i = 0; i < o.Length; i++)
                    {
                        o[i] = Math.Max(0, a[i]);
                    }

                    break;
                case FlattenLayer:
                    Array.Copy(a, o, o.Length);
                    break;
                case DropoutLayer:
                    for (var i = 0; i < o.Length; i++)
                    {
                        o[i] = masks is not null && masks.TryGetValue(l, out var mask) ? a[i] * mask[i] : a[i];
                    }

                    break;
                default:
                    throw new InvalidOperationException();
            }

            a = o;
        }

        return a;
    }

    /// <summary>Mean softmax cross-entropy.</summary>
    public static double Loss(ModelSpec spec, IReadOnlyDictionary<string, double[]> p, float[] x, long[] y, IReadOnlyDictionary<int, float[]>? masks = null)
    {
        var batch = y.Length;
        var logits = Logits(spec, p, x, batch, masks);
        var c = spec.ClassCount;
        double total = 0;
        for (var n = 0; n < batch; n++)
        {
            var max = double.NegativeInfinity;
            for (var k = 0; k < c; k++)
            {
                max = Math.Max(max, logits[(n * c) + k]);
            }

            double sum = 0;
            for (var k = 0; k < c; k++)
            {
                sum += Math.Exp(logits[(n * c) + k] - max);
            }

            total += max + Math.Log(sum) - logits[(n * c) + (int)y[n]];
        }

        return total / batch;
    }

    public static Dictionary<string, double[]> ToDouble(ModelParameters parameters) =>
        parameters.Tensors.ToDictionary(t => t.Name, t => t.Data.Select(v => (double)v).ToArray(), StringComparer.Ordinal);
}
