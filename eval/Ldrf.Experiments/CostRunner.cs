using System.Diagnostics;
using System.Globalization;
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
        // --append keeps the records of other networks and targets (each network can then run in its own process).
        var records = settings.Append
            ? ResultWriter.ReadCost(settings.OutputFolder).Where(r => !settings.CostModels.Any(m => m.Title == r.Model && settings.CostTargets(m).Contains(r.TargetSpeedup))).ToList()
            : [];
        foreach (var model in settings.CostModels)
        {
            foreach (var target in settings.CostTargets(model))
            {
                cancellationToken.ThrowIfCancellationRequested();
                records.Add(RunOne(model, target, batches, cancellationToken));
                var r = records[^1];
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{model.Title} to {target}x: {r.TotalSeconds:F0} s (calibration {r.CalibrationSeconds:F0}, decomposition {r.DecompositionSeconds:F0}, selection {r.SelectionSeconds:F0}, recomposition {r.RecompositionSeconds:F0}), peak {r.PeakResidentMegabytes:F0} MB"));
                ResultWriter.WriteCost(settings, Info(data), records);
            }
        }
    }

    private CostRecord RunOne(ImageNetScaleModel model, double target, List<Tensor> batches, CancellationToken cancellationToken)
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
        var options = new NetworkPruningOptions
        {
            TargetFlopsReduction = target,
            UseCapacityBounds = false,
            LatencyRuns = settings.LatencyRuns,
            Seed = settings.Seed,
        };
        var clock = new StageClock(new ConsoleProgress<PruningProgress>(p => $"{model.Title} {target}x: {p.Stage} {p.Step}/{p.StepCount} {p.LayerPath}"));
        using var result = new TorchSharpPruner().Prune(network, batches, options, clock, cancellationToken);
        var total = clock.BeforeLatency;
        var peak = MemoryProbe.PeakResidentMegabytes();
        ConsoleProgress.Done();
        var report = result.Report;
        log.WriteLine(report.ToString());
        return new CostRecord
        {
            Model = model.Title,
            Weights = settings.StateDictPath is null ? "torchvision's random initialization" : Path.GetFileName(settings.StateDictPath),
            TargetSpeedup = target,
            FlopsRatio = report.FlopsReduction,
            ParametersRatio = (double)report.ParametersBefore / report.ParametersAfter,
            CalibrationImages = report.CalibrationImages,
            Resolution = ImageNetScaleModel.Resolution,
            TotalSeconds = total.TotalSeconds,
            CalibrationSeconds = report.CalibrationTime.TotalSeconds,
            DecompositionSeconds = report.DecompositionTime.TotalSeconds,
            SelectionSeconds = report.SelectionTime.TotalSeconds,
            RecompositionSeconds = report.RecompositionTime.TotalSeconds,
            ResidentBeforeMegabytes = start,
            PeakResidentMegabytes = peak,
            LatencyBeforeMilliseconds = report.LatencyBefore?.TotalMilliseconds,
            LatencyAfterMilliseconds = report.LatencyAfter?.TotalMilliseconds,
            Layers = [.. report.Layers.Where(l => l.DecompositionTime is not null).Select(l => new CostLayerRecord(
                l.Path, l.ChannelsBefore, l.ChannelsAfter, l.CalibrationTime?.TotalSeconds ?? 0, l.DecompositionTime.GetValueOrDefault().TotalSeconds,
                l.SelectionTime.GetValueOrDefault().TotalSeconds, l.RecompositionTime.GetValueOrDefault().TotalSeconds, l.RelativeEmbeddingError))],
        };
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
        $"seed {settings.Seed}; {settings.CalibrationImages} calibration images (the first of the training set, upscaled bilinearly to {ImageNetScaleModel.Resolution} x {ImageNetScaleModel.Resolution}, gray in all three channels) in batches of 8; LDRF with its default options, no capacity bounds; weights {(settings.StateDictPath is null ? "torchvision's random initialization (seeded)" : Path.GetFileName(settings.StateDictPath))}; one calibration image in eight held out for the pruner's output check; latency: median of {settings.LatencyRuns} CPU forward passes of a batch of {new NetworkPruningOptions().LatencyBatchSize} calibration images, under libtorch's default settings"));

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
