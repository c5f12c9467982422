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

    /// <summary>Measured CPU latency of the original over the pruned network (one image, median).</summary>
    public double? LatencyRatio { get; init; }

    /// <summary>Kept channels per prunable layer.</summary>
    public IReadOnlyDictionary<string, int>? Widths { get; init; }

    public double? PruneSeconds { get; init; }

    /// <summary>Why a row has no numbers (for example an unreachable target), else null.</summary>
    public string? Note { get; init; }
}

/// <summary>One row of the calibration-memory experiment.</summary>
internal sealed record MemoryRecord(int CalibrationImages, double ResidentBeforeMegabytes, double PeakResidentMegabytes, double Seconds)
{
    /// <summary>How far the peak resident set rose above the start while pruning.</summary>
    public double PeakGrowthMegabytes => PeakResidentMegabytes - ResidentBeforeMegabytes;
}

/// <summary>How, where and on what a result file was produced (docs/results/*.meta.json).</summary>
internal sealed record RunInfo(string Command, string Date, string Machine, string Data, int TestImages, string Settings);
