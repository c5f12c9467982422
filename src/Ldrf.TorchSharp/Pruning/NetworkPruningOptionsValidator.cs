namespace Ldrf.TorchSharp.Pruning;

/// <summary>Checks every value of <see cref="NetworkPruningOptions"/> at once (registered by <c>AddLdrfTorchSharp</c>; used by <see cref="TorchSharpPruner.Prune"/>).</summary>
internal sealed class NetworkPruningOptionsValidator : OptionsValidator<NetworkPruningOptions>
{
    public static readonly NetworkPruningOptionsValidator Instance = new();

    protected override void Check(NetworkPruningOptions options, Failures failures)
    {
        const string target = nameof(NetworkPruningOptions.TargetFlopsReduction);
        const string ratios = nameof(NetworkPruningOptions.PerLayerKeepRatios);
        if (options.TargetFlopsReduction.HasValue == (options.PerLayerKeepRatios is not null))
        {
            failures.Add($"Set exactly one of '{target}' and '{ratios}' (both are {(options.PerLayerKeepRatios is null ? "unset" : "set")}).");
        }

        if (options.TargetFlopsReduction is double t)
        {
            failures.Require(t >= 1 && !double.IsInfinity(t), target, t, "a finite ratio of at least 1 (5 means 5x fewer FLOPs)");
        }

        failures.Defined(options.Allocation, nameof(NetworkPruningOptions.Allocation));

        if (options.MaxCalibrationBatches is int batches)
        {
            failures.Require(batches >= 1, nameof(NetworkPruningOptions.MaxCalibrationBatches), batches, "at least 1 (or null for all)");
        }

        failures.Require(options.PatchSamplesPerImage >= 1, nameof(NetworkPruningOptions.PatchSamplesPerImage), options.PatchSamplesPerImage, "at least 1");
        failures.Require(options.CalibrationCacheBytes >= 0, nameof(NetworkPruningOptions.CalibrationCacheBytes), options.CalibrationCacheBytes, "0 (no cache) or more");
        failures.Require(options.ChannelMultiple >= 1, nameof(NetworkPruningOptions.ChannelMultiple), options.ChannelMultiple, "at least 1 (1 allows every width)");
        if (options.HeldOutImages is int heldOut)
        {
            failures.Require(heldOut >= 0, nameof(NetworkPruningOptions.HeldOutImages), heldOut, "0 or more (or null for the default)");
        }

        failures.Require(options.LatencyBatchSize >= 1, nameof(NetworkPruningOptions.LatencyBatchSize), options.LatencyBatchSize, "at least 1");
        failures.Require(options.LatencyRuns >= 1, nameof(NetworkPruningOptions.LatencyRuns), options.LatencyRuns, "at least 1");
    }
}
