namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// What to prune to and how to calibrate, for <see cref="TorchSharpPruner"/>. Set exactly one target:
/// <see cref="TargetFlopsReduction"/> or <see cref="PerLayerKeepRatios"/>. Setters accept any value;
/// <see cref="TorchSharpPruner.Prune"/> checks them all (an <see cref="ArgumentException"/> naming every invalid option),
/// and <c>AddLdrfTorchSharp</c> registers a validator that reports every invalid option at once.
/// </summary>
public sealed class NetworkPruningOptions
{
    private IReadOnlyDictionary<string, double>? _perLayerKeepRatios;

    /// <summary>The default of <see cref="ChannelMultiple"/>: 16.</summary>
    public const int DefaultChannelMultiple = 16;

    /// <summary>The default of <see cref="CalibrationCacheBytes"/>: 1 GiB.</summary>
    public const long DefaultCalibrationCacheBytes = 1L << 30;

    /// <summary>
    /// A global FLOPs reduction, original / pruned (for example 5 for 5x, at least 1). Widths are allocated
    /// per layer by <see cref="Allocation"/> (under each layer's valid capacity with <see cref="UseCapacityBounds"/>) in multiples of
    /// <see cref="ChannelMultiple"/>; the achieved reduction is at least the target and lands within one width
    /// step's cost of it, or, where that step overshoots by more than 5%, as close to it as the allowed widths
    /// permit. Default null.
    /// </summary>
    public double? TargetFlopsReduction { get; set; }

    /// <summary>
    /// The fraction of output channels to keep, in (0, 1], per prunable group, named by its source: the path (or
    /// graph node name) of a Conv2d or Linear whose outputs feed another Conv2d or Linear and are not kept whole (see
    /// <see cref="PruningReport.Groups"/>), for example "features.3"; groups not named keep all channels. Default null.
    /// Unknown names are reported when pruning starts, with the list of valid ones.
    /// </summary>
    public IReadOnlyDictionary<string, double>? PerLayerKeepRatios
    {
        get => _perLayerKeepRatios;
        set => _perLayerKeepRatios = value is null ? null : new Dictionary<string, double>(value, StringComparer.Ordinal);
    }

    /// <summary>
    /// How a <see cref="TargetFlopsReduction"/> becomes per-layer widths (default <see cref="WidthAllocationKind.Uniform"/>);
    /// ignored with <see cref="PerLayerKeepRatios"/>. <see cref="WidthAllocationKind.ErrorCurves"/> takes one extra pass
    /// over the calibration images through the original network and one greedy selection per layer.
    /// </summary>
    public WidthAllocationKind Allocation { get; set; }

    // With ErrorCurves: recompute each layer's curve on the pruned-so-far network when its turn comes and re-allocate
    // the rest (the harness measures it against the one-pass curves; not public until it earns it).
    internal bool ReviseErrorCurves { get; set; }

    /// <summary>
    /// Whether residual streams are pruned too (default false: only the channels inside the blocks are). A residual
    /// stream is the set of channels that residual Adds tie together: in a ResNet stage, the stem's (or the downsampling
    /// shortcut's) outputs and every block's last convolution added to them. When true, each stream is one group, named
    /// by its first source in the graph: the kept channels are chosen on the reader whose response has the most terms (weights times output positions), every
    /// source's output rows are pruned in lockstep (the identity shortcuts carry only the kept channels) and every
    /// other reader is refitted to them by ridge least squares. On a ResNet this reaches FLOPs reductions that the inner
    /// channels alone cannot (their reach is in the unreachable-target message); docs/results.md measures both.
    /// </summary>
    public bool PruneResidualStreams { get; set; }

    // With ErrorCurves: what puts the layers' curves on one scale (the harness measures the output-scaled ones against
    // the layers' own; not public until one earns it).
    internal ErrorCurveScale CurveScale { get; set; }

    // A group's consumers that read the same tensor through the same window stack into one request (the default);
    // false selects on the consumer with the most response terms alone and refits every other one (the tests measure both).
    internal bool StackConsumers { get; set; } = true;

    /// <summary>
    /// Whether a FLOPs target keeps every layer at or above its valid capacity r, the rank of its embedding at
    /// <see cref="LdrfOptions.EnergyThreshold"/> (default false). Off by default: on trained networks the valid
    /// capacities are close to the full widths, so with them on almost every target is unreachable (the measured
    /// reachable reductions are in docs/results.md). Turn it on only with a lower energy threshold, and only with a
    /// layer pruner that estimates capacities (<see cref="ICapacityEstimator"/>, as LDRF's does).
    /// </summary>
    public bool UseCapacityBounds { get; set; }

    /// <summary>Use at most this many calibration batches (at least 1), or null for all (default).</summary>
    public int? MaxCalibrationBatches { get; set; }

    /// <summary>
    /// Output locations sampled per calibration image for the patch statistics of a Conv2d consumer (at least 1,
    /// default 10 as in He et al.'s Channel Pruning), collected only for layer pruners that read them
    /// (<see cref="ILayerPruner.UsesPatchStatistics"/>: LDRF with its default patch recomposition, ThiNet, Channel Pruning).
    /// </summary>
    public int PatchSamplesPerImage { get; set; } = 10;

    /// <summary>
    /// The most memory, in bytes on the network's device, that calibration may use to keep both networks'
    /// activations for every calibration image at the last cut of the network before the group being pruned (a point
    /// that every later node's input passes through: each top-level layer of a chain, each block boundary) (default
    /// <see cref="DefaultCalibrationCacheBytes"/>; 0 turns the cache off). With them, each group's calibration runs
    /// only the nodes after that cut instead of the whole network from the images, which makes it several times
    /// faster on deep networks; where they would not fit, a group's calibration starts from the last position that
    /// did. The pruned network is the same either way.
    /// </summary>
    public long CalibrationCacheBytes { get; set; } = DefaultCalibrationCacheBytes;

    /// <summary>
    /// Kept widths are multiples of this many channels (at least 1, default <see cref="DefaultChannelMultiple"/>),
    /// or a layer's full width (a layer narrower than it is not pruned); the FLOPs target is still met. CPU
    /// convolution kernels work on blocks of 8 or 16 channels: on CPUs this library was measured on, libtorch's
    /// oneDNN kernels, which run by default, computed wrong values or NaN for input widths above the block that are
    /// not a multiple of it, and, when training, for input gradients of layers whose output width is not a multiple
    /// of it (see docs/troubleshooting.md); blocked kernels are also fastest on whole blocks. 1 allows every width (and
    /// <see cref="PerLayerKeepRatios"/> are then followed exactly); the pruned network's output check
    /// (<see cref="PruningReport.HeldOutOutputError"/>) still guards the result.
    /// </summary>
    public int ChannelMultiple { get; set; } = DefaultChannelMultiple;

    /// <summary>
    /// Calibration images, taken from the end of the calibration batches, that are kept out of the statistics and
    /// used only to check the pruned network at the end: it runs on them beside the original and the report gives
    /// the relative output error (<see cref="PruningReport.HeldOutOutputError"/>). Null (default) holds out one
    /// image in eight, at most 64 and at least 1 when there are two or more images; 0 checks on the calibration
    /// images themselves. Must leave at least one image for the statistics.
    /// </summary>
    public int? HeldOutImages { get; set; }

    /// <summary>The seed of the patch-location sampling (default 0): the same seed and inputs give the same pruned network.</summary>
    public int Seed { get; set; }

    /// <summary>Whether to measure the CPU latency of both networks on a batch of calibration images (default true; see <see cref="LatencyBatchSize"/>).</summary>
    public bool MeasureLatency { get; set; } = true;

    /// <summary>
    /// Images per timed forward pass (at least 1, default 32; fewer when there are fewer calibration images). A
    /// single image makes libtorch pick other CPU kernels for small layers, and on CPUs that NNPACK does not
    /// support it then prints "Could not initialize NNPACK! Reason: Unsupported hardware." for each of them.
    /// </summary>
    public int LatencyBatchSize { get; set; } = 32;

    /// <summary>Timed forward passes per network for the latency (median; at least 1, default 10), after 2 warm-up passes; the two networks' passes alternate, so that other work on the machine slows both alike.</summary>
    public int LatencyRuns { get; set; } = 10;
}
