using System.Diagnostics;
using System.Globalization;
using Ldrf.Onnx;
using Ldrf.Samples.Common.Data;
using Ldrf.Samples.Common.Reporting;
using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Serialization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.Experiments;

/// <summary>
/// Times the pruning of torchvision's VGG-16 and ResNet-50 at 224 x 224 (<c>--cost</c>): calibration,
/// decomposition, selection and recomposition per layer, and the peak memory, so that the cost of an
/// ImageNet-scale run on one machine is known. Calibration images are Fashion-MNIST images upscaled to
/// 224 x 224 in three channels: the cost depends on the shapes, not on what the images show.
/// </summary>
internal sealed class CostRunner(ExperimentSettings settings, string command, TextWriter log)
{
    public const string ResultsName = "imagenet-scale-cost";

    public void Run(FashionMnistSet train, string data, CancellationToken cancellationToken)
    {
        if (settings.CalibrationImages > train.Count)
        {
            throw new ArgumentException($"'--calibration' asks for {settings.CalibrationImages} images but the data has {train.Count} training images.", nameof(settings));
        }

        using var calibration = Upscale(train.Images.narrow(0, 0, settings.CalibrationImages));
        // Small batches: at 224 x 224 VGG-16's first activations are 12.8 MB per image and network.
        var batches = Batches.Leading(calibration, settings.CalibrationImages, 8);
        // --append keeps the records of other networks, targets and calibration counts (each can then run in its own process).
        var records = settings.Append
            ? ResultWriter.ReadCost(settings.OutputFolder).Where(r => r.ImagesGiven != settings.CalibrationImages
                || !settings.CostModels.Any(m => m.Title == r.Model && settings.CostTargets(m).Contains(r.TargetSpeedup))).ToList()
            : [];
        foreach (var model in settings.CostModels)
        {
            foreach (var target in settings.CostTargets(model))
            {
                cancellationToken.ThrowIfCancellationRequested();
                records.Add(RunOne(model, target, calibration, batches, cancellationToken));
                var r = records[^1];
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{model.Title} to {target}x: {r.TotalSeconds:F0} s = {r.TotalSeconds / r.FloorSeconds:F1}x the forward floor of {r.FloorSeconds:F1} s (calibration {r.CalibrationSeconds:F0}, decomposition {r.DecompositionSeconds:F0}, selection {r.SelectionSeconds:F0}, recomposition {r.RecompositionSeconds:F0}), peak {r.PeakResidentMegabytes:F0} MB ({r.PeakResidentMegabytes - r.ResidentBeforeMegabytes:F0} MB above the start); latency ratio {r.Batch1!.Ratio:F2}x at batch 1, {r.Batch32!.Ratio:F2}x at batch 32"));
                ResultWriter.WriteCost(settings, Info(data), records);
            }
        }
    }

    private CostRecord RunOne(ImageNetScaleModel model, double target, Tensor calibration, List<Tensor> batches, CancellationToken cancellationToken)
    {
        GC.Collect();
        var start = MemoryProbe.ResidentMegabytes();
        MemoryProbe.TryResetPeak();
        torch.random.manual_seed(settings.Seed);
        using var network = model.Create();
        if (settings.StateDictPath is string path)
        {
            // The library's loaders compare every key and shape first and name the file and the first mismatch.
            if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            {
                network.LoadSafetensors(path);
            }
            else
            {
                network.LoadPyTorch(path);
            }
        }

        network.eval();
        // The harness times both networks itself, at batch 1 and 32, after the peak memory of the Prune call is read.
        var options = new NetworkPruningOptions
        {
            TargetFlopsReduction = target,
            UseCapacityBounds = false,
            MeasureLatency = false,
            Seed = settings.Seed,
            PruneResidualStreams = model.PruneResidualStreams,
        };
        var clock = new StageClock(new ConsoleProgress<PruningProgress>(p => $"{model.Title} {target}x: {p.Stage} {p.Step}/{p.StepCount} {p.LayerPath}"));
        using var result = new TorchSharpPruner().Prune(network, batches, options, clock, cancellationToken);
        var total = clock.BeforeLatency;
        var peak = MemoryProbe.PeakResidentMegabytes();
        ConsoleProgress.Done();
        var report = result.Report;
        log.WriteLine(report.ToString());
        var floor = Floor(network, result.Network, batches);
        // Views of the first 32 calibration images and of the first one (no copy: at 1,024 images all of them are 0.6 GB).
        using var many = calibration.narrow(0, 0, Math.Min(32, calibration.shape[0]));
        using var one = calibration.narrow(0, 0, 1);
        var batch1 = LatencyRecord.From(LatencyProbe.Compare(network, result.Network, one, settings.LatencyRuns));
        var batch32 = LatencyRecord.From(LatencyProbe.Compare(network, result.Network, many, settings.LatencyRuns));
        var layerLatencies = LayerLatency.Measure(network, result.Network, one, settings.LatencyRuns)
            .Concat(LayerLatency.Measure(network, result.Network, many, settings.LatencyRuns)).ToList();
        var (ort1, ort32) = OnnxRuntimeLatencies(network, result.Network, one, many);
        return new CostRecord
        {
            Model = model.Title,
            Weights = settings.StateDictPath is null ? "torchvision's random initialization" : Path.GetFileName(settings.StateDictPath),
            TargetSpeedup = target,
            FlopsRatio = report.FlopsReduction,
            ParametersRatio = (double)report.ParametersBefore / report.ParametersAfter,
            CalibrationImages = report.CalibrationImages,
            ImagesGiven = settings.CalibrationImages,
            Resolution = ImageNetScaleModel.Resolution,
            TotalSeconds = total.TotalSeconds,
            CalibrationSeconds = report.CalibrationTime.TotalSeconds,
            DecompositionSeconds = report.DecompositionTime.TotalSeconds,
            SelectionSeconds = report.SelectionTime.TotalSeconds,
            RecompositionSeconds = report.RecompositionTime.TotalSeconds,
            ResidentBeforeMegabytes = start,
            PeakResidentMegabytes = peak,
            FloorSeconds = floor.TotalSeconds,
            Batch1 = batch1,
            Batch32 = batch32,
            LayerLatencies = layerLatencies,
            OrtBatch1 = ort1,
            OrtBatch32 = ort32,
            Layers = [.. report.Layers.Where(l => l.DecompositionTime is not null).Select(l => new CostLayerRecord(
                l.Path, l.ChannelsBefore, l.ChannelsAfter, l.CalibrationTime?.TotalSeconds ?? 0, l.DecompositionTime.GetValueOrDefault().TotalSeconds,
                l.SelectionTime.GetValueOrDefault().TotalSeconds, l.RecompositionTime.GetValueOrDefault().TotalSeconds, l.RelativeEmbeddingError))],
        };
    }

    /// <summary>
    /// The forward floor of a Prune call (issue: at most 3x of it): one pass of the original and one of the pruned
    /// network over every calibration batch, at the same batch size, without gradients and without a warm-up pass (as
    /// the issue defines it; the first batch of each includes libtorch's kernel set-up).
    /// </summary>
    private static TimeSpan Floor(nn.Module<Tensor, Tensor> original, nn.Module<Tensor, Tensor> pruned, List<Tensor> batches)
    {
        using var noGrad = no_grad();
        var watch = Stopwatch.StartNew();
        foreach (var network in new[] { original, pruned })
        {
            foreach (var batch in batches)
            {
                using var scope = NewDisposeScope();
                network.forward(batch);
            }
        }

        return watch.Elapsed;
    }

    // Both networks written with OnnxModel.Save and timed in ONNX Runtime at batch 1 and 32 (the files are deleted after).
    private (LatencyRecord Batch1, LatencyRecord Batch32) OnnxRuntimeLatencies(nn.Module<Tensor, Tensor> original, nn.Module<Tensor, Tensor> pruned, Tensor one, Tensor many)
    {
        var folder = Directory.CreateTempSubdirectory("ldrf-cost-");
        try
        {
            var (originalFile, prunedFile) = (Path.Combine(folder.FullName, "original.onnx"), Path.Combine(folder.FullName, "pruned.onnx"));
            long[] imageShape = [.. one.shape.Skip(1)];
            OnnxModel.Save(original, originalFile, imageShape);
            OnnxModel.Save(pruned, prunedFile, imageShape);
            return (LatencyRecord.From(OrtLatency.Compare(originalFile, prunedFile, one, settings.LatencyRuns)),
                LatencyRecord.From(OrtLatency.Compare(originalFile, prunedFile, many, settings.LatencyRuns)));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>N x 1 x 28 x 28 normalized images as N x 3 x 224 x 224 (bilinear, the gray value in every channel).</summary>
    private static Tensor Upscale(Tensor images)
    {
        using var scope = NewDisposeScope();
        var size = ImageNetScaleModel.Resolution;
        return nn.functional.interpolate(images, [size, size], mode: InterpolationMode.Bilinear, align_corners: false)
            .expand(-1, 3, -1, -1).contiguous().MoveToOuterDisposeScope();
    }

    private RunInfo Info(string data) => ExperimentRunner.Info(settings, command, data, 0, string.Create(CultureInfo.InvariantCulture,
        $"seed {settings.Seed}; {settings.CalibrationImages} calibration images (the first of the training set, upscaled bilinearly to {ImageNetScaleModel.Resolution} x {ImageNetScaleModel.Resolution}, gray in all three channels) in batches of 8; LDRF with its default options, no capacity bounds; weights {(settings.StateDictPath is null ? "torchvision's random initialization (seeded)" : Path.GetFileName(settings.StateDictPath))}; one calibration image in eight held out for the pruner's output check; forward floor: one pass of the original and one of the pruned network over the calibration batches after pruning; latency: the two networks alternately, {settings.LatencyRuns} timed CPU forward passes each after 2 warm-up rounds, on the first calibration image (batch 1) and the first 32 (batch 32), median and quartiles, under libtorch's default settings"));

    // The time of the Prune call up to its latency measurement, which belongs to the report, not to pruning.
    private sealed class StageClock(IProgress<PruningProgress> inner) : IProgress<PruningProgress>
    {
        private readonly Stopwatch _watch = Stopwatch.StartNew();
        private TimeSpan? _latencyStart;

        public TimeSpan BeforeLatency => _latencyStart ?? _watch.Elapsed;

        public void Report(PruningProgress value)
        {
            if (value.Stage is PruningStage.MeasuringLatency or PruningStage.Completed)
            {
                _latencyStart ??= _watch.Elapsed;
            }

            inner.Report(value);
        }
    }
}
