using System.Diagnostics;
using System.Globalization;
using Ldrf.Samples.Common.Data;
using Ldrf.Samples.Common.Reporting;
using Ldrf.Samples.Common.Training;
using Ldrf.TorchSharp.Pruning;
using Ldrf.TorchSharp.Recovery;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.Experiments;

/// <summary>
/// Prunes the shipped Fashion-MNIST VGG (or, with <c>--model resnet</c>, the ResNet) with every method at every speed-up, with the same calibration images,
/// seed and (except LDRF's capacity-bounded row) the same per-layer widths, and measures each result.
/// </summary>
internal sealed class ExperimentRunner(ExperimentSettings settings, string command, TextWriter log)
{
    public const string MemoryName = "calibration-memory";

    public void Run(CancellationToken cancellationToken = default)
    {
        if (settings.Regenerate)
        {
            ResultWriter.Regenerate(settings);
            return;
        }

        torch.set_num_threads(settings.Threads);
        if (settings.ConvolutionWidths)
        {
            Directory.CreateDirectory(settings.OutputFolder);
            new ConvolutionWidthRunner(settings, command, log).Run();
            return;
        }

        var location = FashionMnistLocator.Locate(settings.DataFolder);
        if (settings.ImageNetResNet18)
        {
            new ImageNetResNet18Runner(settings, command, log).Run(location, cancellationToken);
            return;
        }

        if (settings.CostModels.Count > 0)
        {
            // The cost run reads only its calibration images.
            using var calibrationSet = FashionMnist.LoadTrain(location, settings.CalibrationImages);
            Directory.CreateDirectory(settings.OutputFolder);
            new CostRunner(settings, command, log).Run(calibrationSet, Describe(location), cancellationToken);
            return;
        }

        using var train = FashionMnist.LoadTrain(location);
        using var test = FashionMnist.LoadTest(location, settings.TestImages);
        var checkpoint = settings.CheckpointPath ?? Path.Combine(
            FashionMnistLocator.FindRepositoryDataFolder()
                ?? throw new DirectoryNotFoundException("samples/data was not found; run the harness from the repository or pass --checkpoint."),
            settings.Model.CheckpointName);
        using var model = settings.Model.Load(checkpoint);
        var data = Describe(location);
        log.WriteLine($"Data: {train.Count} training and {test.Count} test images from {data}.");
        Directory.CreateDirectory(settings.OutputFolder);

        if (settings.MemoryCalibrationImages.Count > 0)
        {
            RunMemory((Sequential)model, train, data, cancellationToken); // the VGG only (ExperimentSettings)
            return;
        }

        var info = Info(data, test.Count);
        var methods = Methods.Create(settings);
        // With --append, a record of the same method and target is replaced when its new one is measured, not before,
        // so that a run stopped part-way leaves the rows it did not reach as they were.
        var records = new List<ResultRecord>();
        if (settings.Append && File.Exists(Path.Combine(settings.OutputFolder, settings.Model.ResultsName + ".json")))
        {
            records.AddRange(ResultWriter.ReadResults(settings.OutputFolder, settings.Model));
        }

        // The unpruned model's accuracy on the same test images is measured once per results file.
        var unprunedRecord = records.FirstOrDefault(r => r.Method == "unpruned");
        var unpruned = unprunedRecord?.AccuracyBefore ?? Evaluator.Accuracy(model, test.Images, test.Labels);
        records.RemoveAll(r => r.Method == "unpruned");
        records.Insert(0, unprunedRecord ?? new ResultRecord
        {
            Method = "unpruned", TargetSpeedup = 1, FlopsRatio = 1, ParametersRatio = 1, AccuracyBefore = unpruned, LatencyRatio = 1,
            Note = settings.CheckpointPath is null ? "the shipped checkpoint; not fine-tuned" : $"checkpoint {Path.GetFileName(settings.CheckpointPath)}; not fine-tuned",
        });
        log.WriteLine($"{settings.Model.Title} unpruned: accuracy {unpruned:P2}");
        ResultWriter.Write(settings, info, records);

        var calibration = Batches.Leading(train.Images, Math.Min(settings.CalibrationImages, train.Count), 100);
        var fineTuneCount = Math.Min(settings.FineTuneImages, train.Count);
        using var fineTuneImages = train.Images.narrow(0, 0, fineTuneCount);
        using var fineTuneLabels = train.Labels.narrow(0, 0, fineTuneCount);
        var recoveryImages = settings.RecoveryImages.Select(n => train.Images.narrow(0, 0, Math.Min(n ?? train.Count, train.Count))).ToList();
        using var trajectoryImages = test.Images.narrow(0, 0, Math.Min(settings.RecoveryTestImages, test.Count));
        using var trajectoryLabels = test.Labels.narrow(0, 0, Math.Min(settings.RecoveryTestImages, test.Count));
        var trajectorySet = (trajectoryImages, trajectoryLabels);
        foreach (var speedup in settings.Speedups)
        {
            foreach (var method in methods)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var record = RunOne(model, method, speedup, calibration, test, fineTuneImages, fineTuneLabels, recoveryImages, trajectorySet, cancellationToken);
                var earlier = records.FirstOrDefault(r =>
                    r.TargetSpeedup == speedup && r.Method == method.Name && r.Decomposition == method.Decomposition && r.Allocation == method.AllocationName);
                record = WithEarlierRecoveries(record, earlier);
                if (earlier is not null)
                {
                    records.Remove(earlier);
                }

                records.Add(record);
                var recovered = string.Concat((record.Recoveries ?? []).Select(r => string.Create(CultureInfo.InvariantCulture,
                    $", {r.Accuracy:P2} recovered over {r.Images} images in {r.Seconds:F0} s (90% after {(r.StepsTo(0.9) is int n ? n + " steps" : "-")})")));
                log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{speedup}x {method.Id}: FLOPs {record.FlopsRatio:F2}x, accuracy {record.AccuracyBefore:P2} -> {record.AccuracyAfter:P2} fine-tuned{recovered}, latency {record.LatencyRatio:F2}x, {record.PruneSeconds:F0} s{(record.Note is null ? "" : "; " + record.Note)}"));
                ResultWriter.Write(settings, info, records);
            }
        }

        foreach (var images in recoveryImages)
        {
            images.Dispose();
        }
    }

    /// <summary>
    /// <paramref name="record"/> with the recoveries of <paramref name="earlier"/> (the record it replaces under --append) whose
    /// budgets this run did not measure, when both pruned the same network (same widths and accuracy): so the budgets can
    /// be run one at a time.
    /// </summary>
    internal static ResultRecord WithEarlierRecoveries(ResultRecord record, ResultRecord? earlier)
    {
        if (earlier?.Recoveries is not { Count: > 0 } kept || record.AccuracyBefore is null || earlier.AccuracyBefore != record.AccuracyBefore
            || earlier.Widths is null || record.Widths is null || !earlier.Widths.OrderBy(w => w.Key).SequenceEqual(record.Widths.OrderBy(w => w.Key)))
        {
            return record;
        }

        var measured = record.Recoveries ?? [];
        var others = kept.Where(k => !measured.Any(m => m.Images == k.Images && m.Epochs == k.Epochs)).ToList();
        return others.Count == 0 ? record : record with { Recoveries = [.. measured, .. others] };
    }

    private static string Describe(FashionMnistLocation location) => $"{location.Folder}{(location.IsFullSet ? "" : " (the shipped subset)")}";

    private ResultRecord RunOne(
        nn.Module<Tensor, Tensor> model, Method method, double speedup, List<Tensor> calibration, FashionMnistSet test,
        Tensor fineTuneImages, Tensor fineTuneLabels, IReadOnlyList<Tensor> recoveryImages, (Tensor Images, Tensor Labels) trajectorySet, CancellationToken cancellationToken)
    {
        var options = new NetworkPruningOptions
        {
            TargetFlopsReduction = speedup,
            UseCapacityBounds = method.CapacityBounded,
            Allocation = method.Allocation,
            ReviseErrorCurves = method.ReviseCurves,
            CurveScale = method.CurveScale,
            PruneResidualStreams = settings.Model.PruneResidualStreams || method.ResidualStreams,
            LatencyRuns = settings.LatencyRuns,
            Seed = settings.Seed,
        };
        var watch = Stopwatch.StartNew();
        PruningResult result;
        try
        {
            result = new TorchSharpPruner(method.Create()).Prune(model, calibration, options,
                new ConsoleProgress<PruningProgress>(p => $"{speedup}x {method.Id}: {p.Stage} {p.Step}/{p.StepCount} {p.LayerPath}"), cancellationToken);
        }
        catch (ArgumentException e) when (method.CapacityBounded || e is ArgumentOutOfRangeException { ParamName: "options" } && e.Message.Contains("unreachable", StringComparison.Ordinal))
        {
            // An unreachable target (under the capacity bounds, or with widths in multiples of the channel multiple)
            // is a result too: the message names the best reachable ratio.
            ConsoleProgress.Done();
            return new ResultRecord { Method = method.Name, Decomposition = method.Decomposition, Allocation = method.AllocationName, TargetSpeedup = speedup, Note = e.Message };
        }

        ConsoleProgress.Done();
        using (result)
        {
            var seconds = watch.Elapsed.TotalSeconds;
            var report = result.Report;
            var network = result.Network;
            var before = Evaluator.Accuracy(network, test.Images, test.Labels);
            // Recovery trains a copy, so every budget runs from the pruned network whether or not the fine-tune below follows.
            var recoveries = settings.Recovery
                ? recoveryImages.Select(images => Recover(model, network, images, test, trajectorySet, $"{speedup}x {method.Id}", cancellationToken)).ToList()
                : null;

            double? after = null;
            if (settings.FineTuneEpochs > 0)
            {
                FineTune(network, fineTuneImages, fineTuneLabels, $"{speedup}x {method.Id}", cancellationToken);
                after = Evaluator.Accuracy(network, test.Images, test.Labels);
            }

            return new ResultRecord
            {
                Method = method.Name,
                Decomposition = method.Decomposition,
                Allocation = method.AllocationName,
                TargetSpeedup = speedup,
                FlopsRatio = report.FlopsReduction,
                ParametersRatio = (double)report.ParametersBefore / report.ParametersAfter,
                AccuracyBefore = before,
                AccuracyAfter = after,
                Recoveries = recoveries,
                LatencyRatio = report.LatencyBefore / report.LatencyAfter,
                HeldOutOutputError = report.HeldOutOutputError,
                // Every layer the layer pruner saw (it reports an output error for each; baselines report no capacity).
                Widths = report.Layers.Where(l => l.ChannelsAfter != l.ChannelsBefore || l.RelativeOutputError is not null)
                    .ToDictionary(l => l.Path, l => l.ChannelsAfter),
                PruneSeconds = seconds,
            };
        }
    }

    // One recovery budget, with the test accuracy of the network being trained measured along the way on the trajectory's
    // images; the time of those measurements is taken out of the recovery's time.
    private RecoveryRecord Recover(
        nn.Module<Tensor, Tensor> model, nn.Module<Tensor, Tensor> network, Tensor images, FashionMnistSet test, (Tensor Images, Tensor Labels) trajectorySet,
        string label, CancellationToken cancellationToken)
    {
        var trajectory = new List<TrajectoryPoint>();
        var measuring = new Stopwatch();
        var options = new RecoveryOptions
        {
            Epochs = settings.RecoveryEpochs,
            LearningRate = settings.RecoveryLearningRate ?? new RecoveryOptions().LearningRate,
            Seed = settings.Seed,
            StepObserver = (step, steps, student) =>
            {
                if (step % settings.RecoveryEvery == 0 || step == steps)
                {
                    measuring.Start();
                    trajectory.Add(new TrajectoryPoint(step, Evaluator.Accuracy(student, trajectorySet.Images, trajectorySet.Labels)));
                    measuring.Stop();
                }
            },
        };
        using var recovery = new RecoveryTrainer().Recover(model, network, images, options: options,
            progress: new ConsoleProgress<RecoveryProgress>(p => $"{label}: recovery over {images.shape[0]} images, {p.Stage} epoch {p.Epoch}, {p.Step}/{p.StepCount}"),
            cancellationToken: cancellationToken);
        ConsoleProgress.Done();
        return new RecoveryRecord
        {
            Images = (int)images.shape[0],
            Epochs = settings.RecoveryEpochs,
            Accuracy = Evaluator.Accuracy(recovery.Network, test.Images, test.Labels),
            Seconds = (recovery.Elapsed - measuring.Elapsed).TotalSeconds,
            Steps = recovery.Steps,
            TrajectoryImages = (int)trajectorySet.Images.shape[0],
            TrajectoryEvery = settings.RecoveryEvery,
            Trajectory = trajectory,
        };
    }

    private void FineTune(nn.Module<Tensor, Tensor> network, Tensor images, Tensor labels, string label, CancellationToken cancellationToken)
    {
        torch.random.manual_seed(settings.Seed);
        new Trainer(new TrainerOptions
        {
            Epochs = settings.FineTuneEpochs,
            BatchSize = 64,
            LearningRate = settings.FineTuneLearningRate,
            Momentum = 0.9,
            Optimizer = OptimizerKind.Sgd,
            Schedule = LearningRateSchedule.Cosine,
            Seed = settings.Seed,
        }).Train(network, images, labels, new ConsoleProgress<TrainingProgress>(
            p => $"{label}: fine-tune step {p.Step}/{p.TotalSteps} loss {p.Loss:F3}"), cancellationToken);
        ConsoleProgress.Done();
        network.eval();
    }

    // Calibration memory: streamed statistics should make the peak independent of the number of images.
    private void RunMemory(Sequential model, FashionMnistSet train, string data, CancellationToken cancellationToken)
    {
        var records = new List<MemoryRecord>();
        foreach (var count in settings.MemoryCalibrationImages)
        {
            if (count > train.Count)
            {
                throw new ArgumentException($"'--memory' asks for {count} calibration images but the data has {train.Count} training images.", nameof(settings));
            }

            // The batches are views of the loaded training set: they add no memory of their own.
            var batches = Batches.Leading(train.Images, count, 100);
            GC.Collect();
            var start = MemoryProbe.ResidentMegabytes();
            if (!MemoryProbe.TryResetPeak())
            {
                log.WriteLine("warning: the peak-memory mark cannot be reset here; the peaks below include earlier steps.");
            }

            var watch = Stopwatch.StartNew();
            // The channel recomposition: its C x C statistics are what calibration streams for every method; the
            // patch statistics are streamed the same way (fixed F x F sums) and tested in the adapter's tests.
            var pruner = new TorchSharpPruner(Methods.Create(settings with { Methods = [Methods.LdrfChannel] })[0].Create());
            using (pruner.Prune(model, batches, new NetworkPruningOptions { TargetFlopsReduction = settings.Speedups[^1], UseCapacityBounds = false, MeasureLatency = false },
                new ConsoleProgress<PruningProgress>(p => $"{count} images: {p.Stage} {p.Step}/{p.StepCount} {p.LayerPath}"), cancellationToken))
            {
                ConsoleProgress.Done();
                records.Add(new MemoryRecord(count, start, MemoryProbe.PeakResidentMegabytes(), watch.Elapsed.TotalSeconds));
            }

            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{count} calibration images: resident {start:F0} MB at start, peak {records[^1].PeakResidentMegabytes:F0} MB (+{records[^1].PeakGrowthMegabytes:F0} MB), {records[^1].Seconds:F0} s"));
        }

        ResultWriter.WriteMemory(settings, Info(data, 0), records);
    }

    private RunInfo Info(string data, int testImages) => Info(settings, command, data, testImages, string.Create(CultureInfo.InvariantCulture,
        $"seed {settings.Seed}; {settings.CalibrationImages} calibration images (the first of the training set); every method but the capacity-bounded and width-allocation rows prunes to the same per-layer widths (uniform keep fraction); fine-tune: {settings.FineTuneEpochs} epoch(s) of SGD (momentum 0.9, lr {settings.FineTuneLearningRate}, cosine, batch 64) over the first {settings.FineTuneImages} training images, the same for every method; {(settings.Recovery ? $"recovery: the library's RecoveryTrainer with its defaults but {settings.RecoveryEpochs} epoch(s){(settings.RecoveryLearningRate is double lr ? string.Create(CultureInfo.InvariantCulture, $" and lr {lr}") : "")}, distilling the original into the pruned network without labels over {string.Join(" and, separately, ", settings.RecoveryImages.Select(n => n is int images ? string.Create(CultureInfo.InvariantCulture, $"the first {images}") : "all"))} training images (10% held out to keep the best), the same for every method (with --append, the budgets of the same pruned networks measured by earlier commands are kept), its test accuracy measured along the way on the first {settings.RecoveryTestImages} test images every {settings.RecoveryEvery} steps; " : "")}latency: median of {settings.LatencyRuns} CPU forward passes of a batch of {new NetworkPruningOptions().LatencyBatchSize} calibration images; pruning with the library's defaults otherwise (kept widths multiples of {NetworkPruningOptions.DefaultChannelMultiple} channels, one calibration image in eight held out for the output check), under libtorch's default settings"));

    /// <summary>The command, date, machine and data of a run, with <paramref name="settingsText"/> describing its settings.</summary>
    public static RunInfo Info(ExperimentSettings settings, string command, string data, int testImages, string settingsText)
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        // The machine is shared: the load when the record was written tells how much times and latencies can be trusted.
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ') : null;
        return new RunInfo(
            command,
            DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture),
            $"{cpu ?? "unknown CPU"}, {Environment.ProcessorCount} logical cores, {settings.Threads} torch thread(s), {System.Runtime.InteropServices.RuntimeInformation.OSDescription}"
                + (load is { Length: >= 3 } ? $", load average {load[0]} (1 min), {load[2]} (15 min) when written" : ""),
            data,
            testImages,
            settingsText);
    }
}
