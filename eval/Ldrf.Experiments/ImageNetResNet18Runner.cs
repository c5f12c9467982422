using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Ldrf.Onnx;
using Ldrf.Samples.Common.Data;
using Ldrf.Samples.Common.Reporting;
using Ldrf.TorchSharp.Pruning;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.Experiments;

/// <summary>
/// <c>--model resnet18-imagenet</c>: prunes the ImageNet-pretrained ResNet-18 trunk of Microsoft.ML.DnnImageFeaturizer.ResNet18
/// (imported with <see cref="OnnxModel.Load(string)"/>) with every method at every target, on Fashion-MNIST calibration
/// images brought to the trunk's input by the package's own preprocessing, and measures before any fine-tuning the
/// fidelity of the 512 pooled features and the accuracy of a frozen linear probe trained once on the unpruned features.
/// </summary>
internal sealed class ImageNetResNet18Runner(ExperimentSettings settings, string command, TextWriter log)
{
    public const string ModelId = "resnet18-imagenet";
    public const string ResultsName = "imagenet-resnet18";

    /// <summary>Calibration images unless <c>--calibration</c> is given (the other count the section reports is 1,024).</summary>
    public const int DefaultCalibrationImages = 256;

    /// <summary>Probe training images unless <c>--probe-images</c> is given: training images after the calibration ones.</summary>
    public const int DefaultProbeImages = 10_000;

    /// <summary>The probe's training images start here, after the largest calibration set any run of the section uses, so they never overlap.</summary>
    public const int ProbeStart = 1024;

    /// <summary>Feature fidelity is measured on the first this-many test images.</summary>
    public const int FidelityImages = 2000;

    /// <summary>The targets unless <c>--speedups</c> is given.</summary>
    public static IReadOnlyList<double> DefaultSpeedups { get; } = [1.5, 2, 3];

    /// <summary>LDRF (its default embedding) and every baseline; other embeddings run when named with <c>--methods</c>.</summary>
    public static IReadOnlyList<string> DefaultMethods { get; } = [Methods.LdrfWeightSvd, "l1-norm", "random-least-squares", Methods.ThiNet, "channel-pruning"];

    private const int Batch = 16;
    private static readonly long[] s_imageShape = [3, Resolution, Resolution];

    public const int Resolution = 224;

    /// <summary>The restored trunk (in the package folder, never committed).</summary>
    public static string TrunkPath => PackageFile("ResNet18Onnx");

    /// <summary>The package's preprocessing: RGB planes of 0-255 pixels in, BGR minus the mean image out.</summary>
    public static string PreprocessPath => PackageFile("ResNetPreprocessOnnx");

    /// <summary>The options this model takes unless given: its own defaults, and a tiny run under <c>--smoke</c>.</summary>
    public static ExperimentSettings WithDefaults(ExperimentSettings s, IReadOnlyList<string> args)
    {
        if (s.Smoke)
        {
            // At 224 x 224 each image costs about 2 GFLOPs: LDRF and the cheapest baseline, on 8 calibration images.
            return s with
            {
                Speedups = args.Contains("--speedups") ? s.Speedups : [2],
                Methods = args.Contains("--methods") ? s.Methods : [Methods.LdrfWeightSvd, "l1-norm"],
                CalibrationImages = args.Contains("--calibration") ? s.CalibrationImages : 8,
                TestImages = args.Contains("--test-images") ? s.TestImages : 16,
                ProbeImages = args.Contains("--probe-images") ? s.ProbeImages : 32,
                LatencyRuns = args.Contains("--latency-runs") ? s.LatencyRuns : 2,
            };
        }

        return s with
        {
            Speedups = s.SpeedupsGiven ? s.Speedups : DefaultSpeedups,
            CalibrationImages = args.Contains("--calibration") ? s.CalibrationImages : DefaultCalibrationImages,
            Methods = s.Methods ?? DefaultMethods,
            LatencyRuns = args.Contains("--latency-runs") ? s.LatencyRuns : 10,
        };
    }

    public void Run(FashionMnistLocation location, CancellationToken cancellationToken)
    {
        var train = IdxFile.ReadImages(location.TrainImagesPath);
        var trainLabels = IdxFile.ReadLabels(location.TrainLabelsPath);
        var test = IdxFile.ReadImages(location.TestImagesPath);
        var testLabels = IdxFile.ReadLabels(location.TestLabelsPath);
        var calibrationCount = settings.CalibrationImages;
        var probeCount = settings.ProbeImages ?? DefaultProbeImages;
        var probeStart = Math.Min(ProbeStart, Math.Max(calibrationCount, train.Count - probeCount));
        if (calibrationCount > ProbeStart || probeStart < calibrationCount || probeStart + probeCount > train.Count)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"'--calibration' {calibrationCount} and '--probe-images' {probeCount} need {calibrationCount} calibration images (at most {ProbeStart}) and as many probe images after them, but the data has {train.Count} training images."), nameof(settings));
        }

        var testCount = Math.Min(settings.TestImages ?? test.Count, test.Count);
        var fidelityCount = Math.Min(FidelityImages, testCount);
        var data = $"{location.Folder}{(location.IsFullSet ? "" : " (the shipped subset)")}";
        var info = ExperimentRunner.Info(settings, command, data, testCount, string.Create(CultureInfo.InvariantCulture,
            $"seed {settings.Seed}; the trunk {Path.GetFileName(TrunkPath)} of Microsoft.ML.DnnImageFeaturizer.ResNet18, imported with OnnxModel.Load; images: Fashion-MNIST's 28 x 28 pixels (0-255) upscaled bilinearly to {Resolution} x {Resolution}, the gray value in all three channels, through the package's {Path.GetFileName(PreprocessPath)} in ONNX Runtime; calibration: the first {calibrationCount} training images (one in eight held out for the pruner's output check), the same for every method, every method pruning to the same per-layer widths (uniform keep fraction, multiples of {NetworkPruningOptions.DefaultChannelMultiple}); feature fidelity on the first {fidelityCount} test images; linear probe: multinomial logistic regression ({LinearProbe.Describe}) trained once on the unpruned trunk's features of training images {probeStart}-{probeStart + probeCount - 1} ({probeCount} images, none used for calibration) and applied unchanged to every trunk's features of the first {testCount} test images; ONNX Runtime latency: both networks written with OnnxModel.Save, run alternately at batch 1 with default session options, median of {settings.LatencyRuns} runs each"));

        using var preprocessing = new ResNetPreprocessing(PreprocessPath);
        using var trunk = OnnxModel.Load(TrunkPath);
        trunk.eval();
        var cacheKey = $"{(location.IsFullSet ? "full" : "subset")}-{new FileInfo(TrunkPath).Length}";
        using var probeFeatures = FeatureCache.LoadOrCompute($"train-{probeStart}-{probeCount}-{cacheKey}", probeCount,
            () => Features(trunk, preprocessing, train, probeStart, probeCount, "unpruned trunk, probe images", cancellationToken));
        using var referenceFeatures = FeatureCache.LoadOrCompute($"test-0-{testCount}-{cacheKey}", testCount,
            () => Features(trunk, preprocessing, test, 0, testCount, "unpruned trunk, test images", cancellationToken));
        using var probeLabels = torch.tensor(trainLabels.AsSpan(probeStart, probeCount).ToArray().Select(b => (long)b).ToArray());
        using var labels = torch.tensor(testLabels.AsSpan(0, testCount).ToArray().Select(b => (long)b).ToArray());
        using var probe = LinearProbe.Train(probeFeatures, probeLabels, FashionMnist.ClassCount, settings.Seed);
        var unprunedAccuracy = probe.Accuracy(referenceFeatures, labels);
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Unpruned trunk: probe accuracy {unprunedAccuracy:P2} on {testCount} test images (training accuracy {probe.Accuracy(probeFeatures, probeLabels):P2} on {probeCount})."));

        var methods = Methods.Create(settings);
        var records = settings.Append
            ? ImageNetResNet18Results.Read(settings.OutputFolder).Where(r => r.Method != "unpruned" && !(r.CalibrationImages == calibrationCount
                && settings.Speedups.Contains(r.TargetSpeedup) && methods.Any(m => m.Name == r.Method && m.Decomposition == r.Decomposition))).ToList()
            : [];
        records.Insert(0, new ImageNetResNet18Record
        {
            Method = "unpruned", TargetSpeedup = 1, FlopsRatio = 1, ParametersRatio = 1, FeatureError = 0, Cosine = 1,
            ProbeAccuracy = unprunedAccuracy, Note = "the reference: the imported trunk as shipped",
        });
        ImageNetResNet18Results.Write(settings, info, records);

        var calibration = Enumerable.Range(0, (calibrationCount + Batch - 1) / Batch)
            .Select(b => preprocessing.Prepare(train, b * Batch, Math.Min(Batch, calibrationCount - (b * Batch)))).ToList();
        var exports = Directory.CreateTempSubdirectory("ldrf-resnet18-onnx-");
        try
        {
            var originalFile = Path.Combine(exports.FullName, "original.onnx");
            OnnxModel.Save(trunk, originalFile, s_imageShape);
            using var latencyInput = calibration[0].narrow(0, 0, 1).contiguous();
            foreach (var speedup in settings.Speedups)
            {
                foreach (var method in methods)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var record = RunOne(trunk, method, speedup, calibration, preprocessing, test, testCount, fidelityCount, referenceFeatures, probe, labels,
                        originalFile, latencyInput, exports.FullName, cancellationToken);
                    records.Add(record);
                    log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{speedup}x {method.Id}, {calibrationCount} calibration images: FLOPs {record.FlopsRatio:F2}x, feature error {record.FeatureError:F3}, cosine {record.Cosine:F4}, probe {record.ProbeAccuracy:P2}, ONNX Runtime latency {record.LatencyRatio:F2}x, {record.PruneSeconds:F0} s{(record.Note is null ? "" : "; " + record.Note)}"));
                    ImageNetResNet18Results.Write(settings, info, records);
                }
            }
        }
        finally
        {
            calibration.ForEach(b => b.Dispose());
            exports.Delete(recursive: true);
        }
    }

    private ImageNetResNet18Record RunOne(
        nn.Module<Tensor, Tensor> trunk, Method method, double speedup, List<Tensor> calibration, ResNetPreprocessing preprocessing,
        IdxImages test, int testCount, int fidelityCount, Tensor referenceFeatures, LinearProbe probe, Tensor labels,
        string originalFile, Tensor latencyInput, string exports, CancellationToken cancellationToken)
    {
        var options = new NetworkPruningOptions
        {
            TargetFlopsReduction = speedup, UseCapacityBounds = false, MeasureLatency = false, Seed = settings.Seed, PruneResidualStreams = method.ResidualStreams,
        };
        var watch = Stopwatch.StartNew();
        PruningResult result;
        try
        {
            result = new TorchSharpPruner(method.Create()).Prune(trunk, calibration, options,
                new ConsoleProgress<PruningProgress>(p => $"{speedup}x {method.Id}: {p.Stage} {p.Step}/{p.StepCount} {p.LayerPath}"), cancellationToken);
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == "options" && e.Message.Contains("unreachable", StringComparison.Ordinal))
        {
            // With 16-channel widths and the residual adds coupling most channels, a target may be out of reach: a note row.
            ConsoleProgress.Done();
            return new ImageNetResNet18Record { Method = method.Name, Decomposition = method.Decomposition, TargetSpeedup = speedup, CalibrationImages = settings.CalibrationImages, Note = e.Message };
        }

        var seconds = watch.Elapsed.TotalSeconds;
        ConsoleProgress.Done();
        using (result)
        {
            // The per-layer rows (each layer's output error on the calibration images) go to the log.
            log.WriteLine(result.Report.ToString());
            var network = result.Network;
            network.eval();
            using var features = Features(network, preprocessing, test, 0, testCount, $"{speedup}x {method.Id}", cancellationToken);
            var (error, cosine) = Fidelity(features.narrow(0, 0, fidelityCount), referenceFeatures.narrow(0, 0, fidelityCount));
            var prunedFile = Path.Combine(exports, "pruned.onnx");
            OnnxModel.Save(network, prunedFile, s_imageShape);
            var ort = OrtLatency.Compare(originalFile, prunedFile, latencyInput, settings.LatencyRuns);
            var (originalMs, prunedMs) = (ort.Before.TotalMilliseconds, ort.After.TotalMilliseconds);
            var report = result.Report;
            return new ImageNetResNet18Record
            {
                Method = method.Name,
                Decomposition = method.Decomposition,
                TargetSpeedup = speedup,
                CalibrationImages = settings.CalibrationImages,
                FlopsRatio = report.FlopsReduction,
                ParametersRatio = (double)report.ParametersBefore / report.ParametersAfter,
                FeatureError = error,
                Cosine = cosine,
                ProbeAccuracy = probe.Accuracy(features, labels),
                PruneSeconds = seconds,
                OrtOriginalMilliseconds = originalMs,
                OrtPrunedMilliseconds = prunedMs,
                HeldOutOutputError = report.HeldOutOutputError,
                Widths = report.Layers.Where(l => l.ChannelsAfter != l.ChannelsBefore || l.RelativeOutputError is not null).ToDictionary(l => l.Path, l => l.ChannelsAfter),
            };
        }
    }

    /// <summary>
    /// ‖F − F₀‖ / ‖F₀‖ over all images and features (Frobenius), and the mean over images of the cosine between each
    /// image's pruned and unpruned feature vectors; in float64.
    /// </summary>
    internal static (double RelativeError, double Cosine) Fidelity(Tensor features, Tensor reference)
    {
        using var scope = NewDisposeScope();
        var f = features.to(float64);
        var r = reference.to(float64);
        var error = (f - r).norm().item<double>() / r.norm().item<double>();
        var cosine = nn.functional.cosine_similarity(f, r, dim: 1).mean().item<double>();
        return (error, cosine);
    }

    /// <summary>The network's pooled features (N x 512) of images start..start+count-1, in batches, without gradients.</summary>
    private Tensor Features(nn.Module<Tensor, Tensor> network, ResNetPreprocessing preprocessing, IdxImages images, int start, int count, string label, CancellationToken cancellationToken)
    {
        using var noGrad = no_grad();
        var result = zeros(count, 512);
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i += Batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var n = Math.Min(Batch, count - i);
            var output = network.forward(preprocessing.Prepare(images, start + i, n));
            result.narrow(0, i, n).copy_(output.reshape(n, -1));
            ConsoleProgress.Show(string.Create(CultureInfo.InvariantCulture, $"{label}: features {i + n}/{count} ({(i + n) / watch.Elapsed.TotalSeconds:F1} images/s)"));
        }

        ConsoleProgress.Done();
        log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label}: {count} images in {watch.Elapsed.TotalSeconds:F0} s ({count / watch.Elapsed.TotalSeconds:F1} images/s)"));
        return result;
    }

    private static string PackageFile(string key) => typeof(ImageNetResNet18Runner).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == key).Value is { } path && File.Exists(path)
            ? path
            : throw new FileNotFoundException($"The {key} file of Microsoft.ML.DnnImageFeaturizer.ResNet18 was not found in the package folder; restore eval/Ldrf.Experiments (dotnet restore) to download it.");
}

/// <summary>
/// Fashion-MNIST images as the trunk's input: 0-255 pixels upscaled bilinearly to 224 x 224, the gray value in the
/// R, G and B planes, then the package's ResNetPreprocess.onnx (RGB to BGR, minus the mean image) in ONNX Runtime.
/// </summary>
internal sealed class ResNetPreprocessing : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string _input;
    private readonly string _output;
    private readonly long[] _shape;

    public ResNetPreprocessing(string path)
    {
        _session = new InferenceSession(path);
        (_input, var meta) = _session.InputMetadata.Single();
        _output = _session.OutputMetadata.Keys.Single();
        // The file fixes its shape (one image); a symbolic batch dimension would take one image per run as well.
        _shape = [.. meta.Dimensions.Select(d => d > 0 ? (long)d : 1L)];
        if (_shape.Aggregate(1L, (p, d) => p * d) != 3L * ImageNetResNet18Runner.Resolution * ImageNetResNet18Runner.Resolution)
        {
            throw new InvalidDataException($"'{path}' takes an input of shape [{string.Join(", ", meta.Dimensions)}], not one 3 x 224 x 224 image.");
        }
    }

    /// <summary>Images start..start+count-1 as count x 3 x 224 x 224 float32, ready for the trunk.</summary>
    public Tensor Prepare(IdxImages images, int start, int count)
    {
        using var scope = NewDisposeScope();
        var pixels = images.Pixels.AsSpan(start * 28 * 28, count * 28 * 28).ToArray().Select(p => (float)p).ToArray();
        var size = ImageNetResNet18Runner.Resolution;
        var upscaled = nn.functional.interpolate(tensor(pixels, [count, 1, 28, 28]), [size, size], mode: InterpolationMode.Bilinear, align_corners: false)
            .expand(-1, 3, -1, -1).contiguous().data<float>().ToArray();
        var imageSize = 3 * size * size;
        var prepared = new float[upscaled.Length];
        for (var i = 0; i < count; i++)
        {
            using var value = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, upscaled.AsMemory(i * imageSize, imageSize), _shape);
            using var results = _session.Run(new RunOptions(), [_input], [value], [_output]);
            results[0].GetTensorDataAsSpan<float>().CopyTo(prepared.AsSpan(i * imageSize, imageSize));
        }

        return tensor(prepared, [count, 3, size, size]).MoveToOuterDisposeScope();
    }

    public void Dispose() => _session.Dispose();
}

/// <summary>The unpruned trunk's features on disk (float32, outside the repository), so that reruns skip the slowest forward passes.</summary>
internal static class FeatureCache
{
    public static string Folder => Path.Combine(Path.GetTempPath(), "ldrf-resnet18-features");

    public static Tensor LoadOrCompute(string key, int count, Func<Tensor> compute)
    {
        var path = Path.Combine(Folder, key + ".f32");
        if (File.Exists(path) && new FileInfo(path).Length == count * 512L * sizeof(float))
        {
            var bytes = File.ReadAllBytes(path);
            var values = new float[count * 512];
            Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
            return tensor(values, [count, 512]);
        }

        var features = compute();
        Directory.CreateDirectory(Folder);
        var data = features.data<float>().ToArray();
        var buffer = new byte[data.Length * sizeof(float)];
        Buffer.BlockCopy(data, 0, buffer, 0, buffer.Length);
        var temp = path + "." + Environment.ProcessId + ".tmp";
        File.WriteAllBytes(temp, buffer);
        File.Move(temp, path, overwrite: true);
        return features;
    }
}
