using System.Reflection;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Ldrf.Onnx.Tests;

/// <summary>Runs ONNX files in ONNX Runtime (default session options) and compares outputs.</summary>
internal static class OnnxRuntimeReference
{
    /// <summary>The folder of the committed test models (written by models/make_models.py).</summary>
    public static string Models => Path.Combine(TestContext.CurrentContext.TestDirectory, "models");

    /// <summary>The restored ResNet-18 trunk of Microsoft.ML.DnnImageFeaturizer.ResNet18 (in the package folder, never committed).</summary>
    public static string ResNet18 => typeof(OnnxRuntimeReference).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "ResNet18Onnx").Value!;

    /// <summary>Every committed model that imports (all but the bad-input files).</summary>
    public static IEnumerable<string> ModelNames() =>
        Directory.EnumerateFiles(Path.Combine(Path.GetDirectoryName(typeof(OnnxRuntimeReference).Assembly.Location)!, "models"), "*.onnx")
            .Select(Path.GetFileName).Where(n => !n!.StartsWith("bad-", StringComparison.Ordinal)).Order(StringComparer.Ordinal)!;

    /// <summary>The model's single input: its name and its shape with symbolic dimensions replaced by <paramref name="batch"/> (batch) or -1.</summary>
    public static (string Name, long[] Shape) Input(byte[] model, int batch)
    {
        using var session = new InferenceSession(model);
        var (name, meta) = session.InputMetadata.Single();
        return (name, [.. meta.Dimensions.Select((d, i) => d > 0 ? d : i == 0 ? batch : -1L)]);
    }

    /// <summary>The declared dimensions of the model's single output (-1 for a symbolic one).</summary>
    public static long[] OutputDimensions(byte[] model)
    {
        using var session = new InferenceSession(model);
        return [.. session.OutputMetadata.Single().Value.Dimensions.Select(d => (long)d)];
    }

    /// <summary>The output of <paramref name="model"/> for <paramref name="input"/> (shape <paramref name="shape"/>).</summary>
    public static (float[] Values, long[] Shape) Run(byte[] model, float[] input, long[] shape)
    {
        using var session = new InferenceSession(model);
        var inputName = session.InputMetadata.Keys.Single();
        using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var results = session.Run(new RunOptions(), [inputName], [value], [session.OutputMetadata.Keys.Single()]);
        var output = results[0];
        return (output.GetTensorDataAsSpan<float>().ToArray(), output.GetTensorTypeAndShape().Shape);
    }

    /// <summary>Seeded standard-normal values.</summary>
    public static float[] RandomInput(long[] shape, int seed)
    {
        var random = new Random(seed);
        var values = new float[shape.Aggregate(1L, (p, d) => p * d)];
        for (var i = 0; i < values.Length; i++)
        {
            // Box-Muller.
            values[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        }

        return values;
    }

    /// <summary>
    /// max |actual - expected| / max |expected|: the error relative to the reference output's scale (an element-wise
    /// ratio would divide by outputs that happen to be near zero). NaN when either side holds NaN.
    /// </summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), "output sizes");
        double diff = 0, scale = 0;
        for (var i = 0; i < actual.Length; i++)
        {
            if (!float.IsFinite(actual[i]) || !float.IsFinite(expected[i]))
            {
                return double.NaN;
            }

            diff = Math.Max(diff, Math.Abs((double)actual[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs((double)expected[i]));
        }

        return scale > 0 ? diff / scale : diff;
    }
}
