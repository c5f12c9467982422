// ONNX in, ONNX out: prune the ImageNet-pretrained ResNet-18 trunk that Microsoft.ML.DnnImageFeaturizer.ResNet18
// ships (a CNTK export ending at global average pooling, 512 features) with calibration images from the shipped
// Fashion-MNIST subset, write the pruned ONNX file, and run both files in ONNX Runtime.
//
//   dotnet run -c Release --project samples/PruneOnnx [-- --speedup 2 --calibration 64 --threads 2 --runs 5 --output folder]
// Exits with 1 when either file's outputs in ONNX Runtime differ from TorchSharp's by more than 1e-4 (relative).
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Ldrf.Onnx;
using Ldrf.Samples.Common.Data;
using Ldrf.TorchSharp.Pruning;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

var settings = Settings.Parse(args);
if (settings is null)
{
    return 2;
}

torch.set_num_threads(settings.Threads);
var models = typeof(Settings).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "DnnImageModels").Value!;
var trunkPath = Path.Combine(models, "ResNet18Onnx", "ResNet18.onnx");
var preprocessPath = Path.Combine(models, "ResNetPrepOnnx", "ResNetPreprocess.onnx");
var output = Path.GetFullPath(settings.Output ?? Path.Combine("artifacts", "prune-onnx"));
Directory.CreateDirectory(output);

// 1. Images: Fashion-MNIST (the shipped subset) resized to 224 x 224, gray in three channels, 0-255, then the
//    package's own preprocessing (ResNetPreprocess.onnx: RGB to BGR and the ImageNet mean image subtracted).
var location = FashionMnistLocator.LocateSubset();
using var train = FashionMnist.LoadTrain(location, settings.CalibrationImages);
using var test = FashionMnist.LoadTest(location, 8);
using var preprocess = new InferenceSession(preprocessPath);
var calibration = Enumerable.Range(0, (settings.CalibrationImages + 15) / 16)
    .Select(b => Preprocess(train.Images[TensorIndex.Slice(b * 16, Math.Min((b + 1) * 16, settings.CalibrationImages))]))
    .ToList();
using var held = Preprocess(test.Images);
Console.WriteLine($"1. Images: {settings.CalibrationImages} calibration and {held.shape[0]} held-out Fashion-MNIST images at 3 x 224 x 224 through ResNetPreprocess.onnx.");

// 2. Import: the CNTK file (opset 8, BatchNormalization with spatial, uneven pads) as a TorchSharp graph network.
using var network = OnnxModel.Load(trunkPath);
Console.WriteLine($"2. Imported {Path.GetFileName(trunkPath)}: {network.Nodes.Count} nodes, {network.InputName} -> {network.OutputName}.");

// 3. Prune with LDRF. The residual adds keep each stage's channels whole; the blocks' inner widths are pruned.
var clock = Stopwatch.StartNew();
using var result = new TorchSharpPruner().Prune(network, calibration, new NetworkPruningOptions { TargetFlopsReduction = settings.Speedup });
Console.WriteLine($"3. Pruned to {result.Report.FlopsReduction:F2}x fewer FLOPs in {clock.Elapsed.TotalSeconds:F0} s:");
Console.WriteLine(result.Report);

// 4. Export. The original declares a batch of exactly 1, so the unpruned network is written too (symbolic batch),
//    as the batch-32 reference; both writes go to a temporary file first and are moved into place.
var prunedPath = Path.Combine(output, "ResNet18-pruned.onnx");
var originalPath = Path.Combine(output, "ResNet18-batched.onnx");
OnnxModel.Save(result.Network, prunedPath, [3, 224, 224]);
OnnxModel.Save(network, originalPath, [3, 224, 224]);
Console.WriteLine($"4. Wrote {prunedPath} ({new FileInfo(prunedPath).Length / 1e6:F1} MB; the original is {new FileInfo(trunkPath).Length / 1e6:F1} MB).");

// 5. ONNX Runtime (default settings) against TorchSharp, and the pruned features against the original's.
using var shipped = new InferenceSession(trunkPath);
using var batched = new InferenceSession(originalPath);
using var pruned = new InferenceSession(prunedPath);
var originalFeatures = Enumerable.Range(0, (int)held.shape[0]).SelectMany(i => Run(shipped, held[TensorIndex.Slice(i, i + 1)])).ToArray();
var prunedFeatures = Run(pruned, held);
var torchPruned = Forward(result.Network, held);
var torchOriginal = Forward(network, held);
var importError = RelativeError(torchOriginal, originalFeatures);
var exportError = RelativeError(prunedFeatures, torchPruned);
Console.WriteLine("5. On the held-out images (max |a - b| / max |b|):");
Console.WriteLine($"   imported network vs ONNX Runtime on the shipped file: {importError:E2}");
Console.WriteLine($"   pruned file in ONNX Runtime vs the pruned network:    {exportError:E2}");
Console.WriteLine($"   pruned features vs the original's (feature error):    {RelativeError(prunedFeatures, originalFeatures):P2}");
if (!(importError < 1e-4 && exportError < 1e-4))
{
    Console.Error.WriteLine("ONNX Runtime and TorchSharp disagree by more than 1e-4 (or an output is not finite).");
    return 1;
}

// 6. Latency in ONNX Runtime, default session options, batch 1 and 32 (median of several runs after a warm-up).
Console.WriteLine("6. ONNX Runtime latency (median), original vs pruned:");
foreach (var batch in new[] { 1, 32 })
{
    using var input = torch.randn(batch, 3, 224, 224) * 50;
    var before = Latency(batch == 1 ? shipped : batched, input, settings.Runs);
    var after = Latency(pruned, input, settings.Runs);
    Console.WriteLine($"   batch {batch,2}: {before,8:F1} ms -> {after,8:F1} ms ({before / after:F2}x faster; FLOPs {result.Report.FlopsReduction:F2}x fewer)");
}

foreach (var batch in calibration)
{
    batch.Dispose();
}

return 0;

// Fashion-MNIST (normalized, N x 1 x 28 x 28) as the trunk's input: 0-255 gray, 224 x 224, three channels, preprocessed.
Tensor Preprocess(Tensor images)
{
    using var scope = NewDisposeScope();
    var pixels = ((images * FashionMnist.Std) + FashionMnist.Mean) * 255;
    var resized = nn.functional.interpolate(pixels, [224, 224], mode: InterpolationMode.Bilinear, align_corners: false)
        .clamp(0, 255).expand(-1, 3, -1, -1).contiguous();
    var prepared = Enumerable.Range(0, (int)resized.shape[0])
        .Select(i => torch.tensor(Run(preprocess, resized[TensorIndex.Slice(i, i + 1)]), [1, 3, 224, 224]))
        .ToArray();
    return torch.cat(prepared, 0).MoveToOuterDisposeScope();
}

static float[] Run(InferenceSession session, Tensor input)
{
    var values = input.contiguous().data<float>().ToArray();
    using var value = OrtValue.CreateTensorValueFromMemory(values, input.shape);
    using var results = session.Run(new RunOptions(), [session.InputMetadata.Keys.Single()], [value], [session.OutputMetadata.Keys.Single()]);
    return results[0].GetTensorDataAsSpan<float>().ToArray();
}

static float[] Forward(nn.Module<Tensor, Tensor> module, Tensor input)
{
    using var scope = NewDisposeScope();
    using var noGrad = no_grad();
    module.eval();
    return module.forward(input).contiguous().data<float>().ToArray();
}

// NaN when an output is not finite, so the check above fails on it.
static double RelativeError(float[] actual, float[] expected)
{
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

    return diff / scale;
}

static double Latency(InferenceSession session, Tensor input, int runs)
{
    Run(session, input);
    var times = Enumerable.Range(0, runs).Select(_ =>
    {
        var watch = Stopwatch.StartNew();
        Run(session, input);
        return watch.Elapsed.TotalMilliseconds;
    }).Order().ToArray();
    return times[times.Length / 2];
}

internal sealed record Settings(double Speedup, int CalibrationImages, int Threads, int Runs, string? Output)
{
    public static Settings? Parse(string[] args)
    {
        var s = new Settings(2, 64, 2, 5, null);
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--speedup" when double.TryParse(value, CultureInfo.InvariantCulture, out var x) && x >= 1:
                    s = s with { Speedup = x };
                    break;
                case "--calibration" when int.TryParse(value, CultureInfo.InvariantCulture, out var n) && n > 0:
                    s = s with { CalibrationImages = n };
                    break;
                case "--threads" when int.TryParse(value, CultureInfo.InvariantCulture, out var t) && t > 0:
                    s = s with { Threads = t };
                    break;
                case "--runs" when int.TryParse(value, CultureInfo.InvariantCulture, out var r) && r > 0:
                    s = s with { Runs = r };
                    break;
                case "--output" when value is not null:
                    s = s with { Output = value };
                    break;
                default:
                    Console.Error.WriteLine($"Unknown or invalid argument '{args[i]}'. Usage: [--speedup 2] [--calibration 64] [--threads 2] [--runs 5] [--output folder]");
                    return null;
            }

            i++;
        }

        return s;
    }
}
