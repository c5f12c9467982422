using System.Globalization;
using Spectre.Console;
using static TorchSharp.torch;

namespace Ldrf.Cli;

/// <summary>What <c>ldrf compare</c> was asked to do.</summary>
internal sealed record CompareSettings(
    string Original, string Pruned, string Calibration, int? Images = null, string? PreprocessingFile = null, string? Size = null, int? Channels = null,
    string? Mean = null, string? Std = null, int Runs = 10);

/// <summary>The numbers <c>ldrf compare</c> prints.</summary>
internal sealed record Comparison(int Images, double RelativeError, double Top1Agreement, TimeSpan OriginalBatch1, TimeSpan PrunedBatch1, TimeSpan? OriginalBatch32, TimeSpan? PrunedBatch32);

/// <summary><c>ldrf compare</c>: both files in ONNX Runtime on the same images: output agreement and latency at batch 1 and 32.</summary>
internal static class CompareCommand
{
    public static int Run(CompareSettings s, IAnsiConsole console, CancellationToken cancellationToken)
    {
        using var original = new OnnxRunner(s.Original, "ORIGINAL");
        using var pruned = new OnnxRunner(s.Pruned, "PRUNED");
        var preprocessing = Calibration.IsTensorFile(s.Calibration) ? null
            : Preprocessing.Resolve(s.PreprocessingFile, s.Size, s.Channels, s.Mean, s.Std, original.ImageShape);
        using var images = Calibration.Load(s.Calibration, preprocessing, s.Images, cancellationToken);
        long[] imageShape = [.. images.shape.Skip(1)];

        // Old exports fix the batch at 1; batch 32 then runs on a copy written by Ldrf.Onnx with a symbolic batch
        // (the same graph, imported and exported), deleted afterwards.
        var notes = new List<string>();
        using var copies = new OutputFiles();
        using var original32 = Batched(original, s.Original, "ORIGINAL", imageShape, copies, notes);
        using var pruned32 = Batched(pruned, s.Pruned, "PRUNED", imageShape, copies, notes);
        var c = Compare(original, pruned, images, s.Runs, cancellationToken, original32, pruned32);

        console.WriteLine($"{s.Original} vs {s.Pruned} in ONNX Runtime (default session options) on {c.Images} images {string.Join("x", imageShape)}");
        var table = new Table().Border(TableBorder.Simple).AddColumns("", "original", "pruned", "speed-up");
        table.AddRow("latency, batch 1", Ms(c.OriginalBatch1), Ms(c.PrunedBatch1), Ratio(c.OriginalBatch1, c.PrunedBatch1));
        table.AddRow("latency, batch 32", Ms(c.OriginalBatch32), Ms(c.PrunedBatch32), Ratio(c.OriginalBatch32, c.PrunedBatch32));
        console.Write(table);
        console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"relative output error {c.RelativeError:F4} (||pruned - original|| / ||original|| over all outputs), top-1 agreement {c.Top1Agreement:P1}"));
        foreach (var note in notes)
        {
            console.WriteLine(note);
        }

        return ExitCodes.Success;
    }

    private static OnnxRunner? Batched(OnnxRunner runner, string path, string name, long[] imageShape, OutputFiles copies, List<string> notes)
    {
        if (runner.FixedBatch is null or 32)
        {
            return null;
        }

        var copy = copies.Add(Path.Combine(Path.GetTempPath(), $"ldrf-compare-{name.ToLowerInvariant()}.onnx"), name);
        using (var network = Ldrf.Onnx.OnnxModel.Load(path))
        {
            Ldrf.Onnx.OnnxModel.Save(network, copy, imageShape);
        }

        notes.Add($"{name} fixes its batch at {runner.FixedBatch}: batch 32 ran on a copy written by Ldrf.Onnx with a symbolic batch (imported and exported).");
        return new OnnxRunner(copy, name);
    }

    /// <summary>Both models on the same images one at a time, then their latencies; <paramref name="original32"/> and <paramref name="pruned32"/> stand in at batch 32 for models that fix their batch.</summary>
    public static Comparison Compare(
        OnnxRunner original, OnnxRunner pruned, Tensor images, int runs, CancellationToken cancellationToken, OnnxRunner? original32 = null, OnnxRunner? pruned32 = null)
    {
        var n = (int)images.shape[0];
        long[] imageShape = [.. images.shape.Skip(1)];
        var perImage = imageShape.Aggregate(1L, (p, d) => p * d);
        var values = images.contiguous().data<float>().ToArray();
        double difference = 0, reference = 0;
        var agree = 0;
        for (var i = 0; i < n; i++)
        {
            // One image at a time: models that fix their batch at 1 (old exports) run too.
            cancellationToken.ThrowIfCancellationRequested();
            var input = values.AsSpan((int)(i * perImage), (int)perImage).ToArray();
            long[] shape = [1, .. imageShape];
            var a = original.Run(input, shape, out var outShape);
            var b = pruned.Run(input, shape, out var prunedShape);
            if (a.Length != b.Length)
            {
                throw new InputException($"PRUNED: its output is [{string.Join(", ", prunedShape)}] but the original's is [{string.Join(", ", outShape)}]; they are not the same model.");
            }

            for (var k = 0; k < a.Length; k++)
            {
                difference += ((double)b[k] - a[k]) * ((double)b[k] - a[k]);
                reference += (double)a[k] * a[k];
            }

            agree += ArgMax(a) == ArgMax(b) ? 1 : 0;
        }

        var one = values.AsSpan(0, (int)perImage).ToArray();
        long[] batch1 = [1, .. imageShape];
        long[] batch32 = [32, .. imageShape];
        var thirtyTwo = Enumerable.Range(0, 32).SelectMany(i => values.AsSpan((int)(i % n * perImage), (int)perImage).ToArray()).ToArray();
        original32 ??= original;
        pruned32 ??= pruned;
        var both32 = original32.FixedBatch is null or 32 && pruned32.FixedBatch is null or 32;
        return new Comparison(
            n,
            reference > 0 ? Math.Sqrt(difference / reference) : Math.Sqrt(difference),
            (double)agree / n,
            original.Latency(one, batch1, runs, cancellationToken),
            pruned.Latency(one, batch1, runs, cancellationToken),
            both32 ? original32.Latency(thirtyTwo, batch32, runs, cancellationToken) : null,
            both32 ? pruned32.Latency(thirtyTwo, batch32, runs, cancellationToken) : null);
    }

    private static int ArgMax(float[] values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }

        return best;
    }

    private static string Ms(TimeSpan? t) => t is { } v ? string.Create(CultureInfo.InvariantCulture, $"{v.TotalMilliseconds:F2} ms") : "n/a";

    private static string Ratio(TimeSpan? a, TimeSpan? b) => a is { } x && b is { } y && y > TimeSpan.Zero ? string.Create(CultureInfo.InvariantCulture, $"{x / y:F2}x") : "n/a";
}
