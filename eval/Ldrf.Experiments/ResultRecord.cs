namespace Ldrf.Experiments;

/// <summary>One row of docs/results/fashion-mnist.json. Ratios are original / pruned; accuracies are fractions.</summary>
internal sealed record ResultRecord
{
    public required string Method { get; init; }

    public string? Decomposition { get; init; }

    public double? TargetSpeedup { get; init; }

    public double? FlopsRatio { get; init; }

    public double? ParametersRatio { get; init; }

    /// <summary>Test accuracy before any fine-tuning.</summary>
    public double? AccuracyBefore { get; init; }

    /// <summary>Test accuracy after the short fine-tune of the settings.</summary>
    public double? AccuracyAfter { get; init; }

    /// <summary>Recovery by distillation from the original (<c>--recovery</c>), once per budget, each from the pruned network before any fine-tune; null when not run.</summary>
    public IReadOnlyList<RecoveryRecord>? Recoveries { get; init; }

    /// <summary>Measured CPU latency of the original over the pruned network (a batch of calibration images, median).</summary>
    public double? LatencyRatio { get; init; }

    /// <summary>The pruner's output check: relative output error of the pruned network against the original on the held-out calibration images.</summary>
    public double? HeldOutOutputError { get; init; }

    /// <summary>Kept channels per prunable layer.</summary>
    public IReadOnlyDictionary<string, int>? Widths { get; init; }

    /// <summary>How the widths were chosen when not the shared uniform ones ("error-curves", "global-magnitude"), else null.</summary>
    public string? Allocation { get; init; }

    public double? PruneSeconds { get; init; }

    /// <summary>Why a row has no numbers (for example an unreachable target), else null.</summary>
    public string? Note { get; init; }
}

/// <summary>One recovery of a pruned network (<c>--recovery</c>) with one budget: its images and epochs.</summary>
internal sealed record RecoveryRecord
{
    /// <summary>The images given to the recovery (the first of the training set; a tenth of them held out).</summary>
    public required int Images { get; init; }

    public required int Epochs { get; init; }

    /// <summary>Test accuracy of the recovered network (all the test images of the run).</summary>
    public required double Accuracy { get; init; }

    /// <summary>The recovery's wall-clock time (targets, training and held-out evaluations; the trajectory's test evaluations excluded).</summary>
    public required double Seconds { get; init; }

    /// <summary>The recovery's optimizer steps.</summary>
    public required int Steps { get; init; }

    /// <summary>The trajectory's test images: the first this many of the test set.</summary>
    public required int TrajectoryImages { get; init; }

    /// <summary>The trajectory is measured before the first step, every this many steps and after the last.</summary>
    public required int TrajectoryEvery { get; init; }

    /// <summary>Test accuracy (on <see cref="TrajectoryImages"/> images) of the network being trained, by optimizer step.</summary>
    public required IReadOnlyList<TrajectoryPoint> Trajectory { get; init; }

    /// <summary>The first measured step at which the network being trained reached <paramref name="accuracy"/>, or null if it never did.</summary>
    public int? StepsTo(double accuracy) => Trajectory.FirstOrDefault(p => p.Accuracy >= accuracy)?.Step;
}

/// <summary>The test accuracy of a network during recovery after <paramref name="Step"/> optimizer steps.</summary>
internal sealed record TrajectoryPoint(int Step, double Accuracy);

/// <summary>One row of the calibration-memory experiment.</summary>
internal sealed record MemoryRecord(int CalibrationImages, double ResidentBeforeMegabytes, double PeakResidentMegabytes, double Seconds)
{
    /// <summary>How far the peak resident set rose above the start while pruning.</summary>
    public double PeakGrowthMegabytes => PeakResidentMegabytes - ResidentBeforeMegabytes;
}

/// <summary>How, where and on what a result file was produced (docs/results/*.meta.json).</summary>
internal sealed record RunInfo(string Command, string Date, string Machine, string Data, int TestImages, string Settings);

/// <summary>The cost of pruning one ImageNet-scale network (docs/results/imagenet-scale-cost.json). Times in seconds.</summary>
internal sealed record CostRecord
{
    public required string Model { get; init; }

    /// <summary>Where the weights came from: a state_dict file name, or torchvision's random initialization.</summary>
    public required string Weights { get; init; }

    public required double TargetSpeedup { get; init; }

    public required double FlopsRatio { get; init; }

    public required double ParametersRatio { get; init; }

    public required int CalibrationImages { get; init; }

    public required int Resolution { get; init; }

    /// <summary>The whole <c>Prune</c> call, latency measurement excluded.</summary>
    public required double TotalSeconds { get; init; }

    public required double CalibrationSeconds { get; init; }

    public required double DecompositionSeconds { get; init; }

    public required double SelectionSeconds { get; init; }

    public required double RecompositionSeconds { get; init; }

    /// <summary>Resident memory of the process before the network was built.</summary>
    public required double ResidentBeforeMegabytes { get; init; }

    /// <summary>Peak resident memory of the process while building and pruning (Linux VmHWM, reset before).</summary>
    public required double PeakResidentMegabytes { get; init; }

    /// <summary>The <c>--calibration</c> count the run was given (the report's <see cref="CalibrationImages"/> excludes the held-out ones).</summary>
    public int ImagesGiven { get; init; }

    /// <summary>One forward pass of the original and one of the pruned network over the calibration batches (the floor).</summary>
    public double FloorSeconds { get; init; }

    /// <summary>CPU latency of both networks on one image.</summary>
    public LatencyRecord? Batch1 { get; init; }

    /// <summary>CPU latency of both networks on a batch of 32 images.</summary>
    public LatencyRecord? Batch32 { get; init; }

    public required IReadOnlyList<CostLayerRecord> Layers { get; init; }

    /// <summary>Both networks written as ONNX files and timed in ONNX Runtime on one image (null in runs before it was measured).</summary>
    public LatencyRecord? OrtBatch1 { get; init; }

    /// <summary>The same on a batch of 32 images.</summary>
    public LatencyRecord? OrtBatch32 { get; init; }

    /// <summary>Each Conv2d and Linear of both networks timed alone, at batch 1 and at batch 32 (null in runs before they were measured).</summary>
    public IReadOnlyList<LayerLatencyRecord>? LayerLatencies { get; init; }

    /// <summary>What the total spends outside the four stages: reading the network, rebuilding it, FLOPs counts.</summary>
    public double OtherSeconds => TotalSeconds - CalibrationSeconds - DecompositionSeconds - SelectionSeconds - RecompositionSeconds;
}

/// <summary>Median and quartile latencies (milliseconds) of the original and the pruned network, timed alternately.</summary>
internal sealed record LatencyRecord(double BeforeMilliseconds, double AfterMilliseconds, double BeforeLower, double BeforeUpper, double AfterLower, double AfterUpper)
{
    public double Ratio => BeforeMilliseconds / AfterMilliseconds;

    public static LatencyRecord From(Ldrf.TorchSharp.Pruning.LatencyResult r) => new(
        r.Before.TotalMilliseconds, r.After.TotalMilliseconds, r.BeforeQuartiles.Lower.TotalMilliseconds, r.BeforeQuartiles.Upper.TotalMilliseconds,
        r.AfterQuartiles.Lower.TotalMilliseconds, r.AfterQuartiles.Upper.TotalMilliseconds);
}

/// <summary>
/// One Conv2d or Linear of a <see cref="CostRecord"/>'s networks timed alone on its own input (<see cref="LayerLatency"/>):
/// FLOPs per image and median milliseconds per batch of the original's and the pruned network's layer.
/// </summary>
internal sealed record LayerLatencyRecord(string Path, string Kind, int Batch, long FlopsBefore, long FlopsAfter, double BeforeMilliseconds, double AfterMilliseconds)
{
    public double FlopsRatio => (double)FlopsBefore / FlopsAfter;

    public double Ratio => BeforeMilliseconds / AfterMilliseconds;
}

/// <summary>One pruned layer of a <see cref="CostRecord"/>.</summary>
internal sealed record CostLayerRecord(
    string Path, int ChannelsBefore, int ChannelsAfter, double CalibrationSeconds, double DecompositionSeconds, double SelectionSeconds,
    double RecompositionSeconds, double? RelativeEmbeddingError);
