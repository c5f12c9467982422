using System.Globalization;
using System.Text;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>One Conv2d or Linear layer before and after pruning.</summary>
/// <remarks>FLOPs are multiply-accumulates (MACs) for one image at the calibration input's size, the convention of the
/// pruning literature: a Conv2d costs out · H_out · W_out · in · kh · kw and a Linear in · out; biases, batch norm,
/// activations and pooling cost nothing. Width planning prices layers with the same cost model, so the reduction
/// planned is the one reported. The parameters of a layer include those of the BatchNorm2d that was folded into it.</remarks>
public sealed record LayerReport
{
    /// <summary>The module path, for example "features.3".</summary>
    public required string Path { get; init; }

    /// <summary>"Conv2d" or "Linear".</summary>
    public required string Type { get; init; }

    /// <summary>Output channels (or features) before pruning.</summary>
    public required int ChannelsBefore { get; init; }

    /// <summary>Output channels (or features) after pruning.</summary>
    public required int ChannelsAfter { get; init; }

    /// <summary>The valid capacity r of the layer's outputs, or null for the last layer (never pruned) and for layer pruners without an embedding (the baselines).</summary>
    public int? ValidCapacity { get; init; }

    /// <summary>The relative reconstruction error of the layer's embedding on the calibration data, or null for the last layer and for layer pruners that recover no embedding.</summary>
    public double? RelativeEmbeddingError { get; init; }

    /// <summary>The relative error of the consumer's response on the calibration data, or null for the last layer.</summary>
    public double? RelativeOutputError { get; init; }

    /// <summary>FLOPs (MACs per image) before pruning.</summary>
    public required long FlopsBefore { get; init; }

    /// <summary>FLOPs (MACs per image) after pruning.</summary>
    public required long FlopsAfter { get; init; }

    /// <summary>Parameters before pruning (with the folded batch norm's).</summary>
    public required long ParametersBefore { get; init; }

    /// <summary>Parameters after pruning.</summary>
    public required long ParametersAfter { get; init; }

    /// <summary>
    /// The time spent running the original and the pruned-so-far network over the calibration batches and
    /// accumulating this layer's statistics, or null for a layer that was not pruned.
    /// </summary>
    public TimeSpan? CalibrationTime { get; init; }

    /// <summary>
    /// The layer pruner's time building the embedding (<see cref="LayerPruningResult.DecompositionTime"/>), or null when
    /// the pruner does not report it or the layer was not pruned.
    /// </summary>
    public TimeSpan? DecompositionTime { get; init; }

    /// <summary>
    /// The layer pruner's time choosing the survivors (<see cref="LayerPruningResult.SelectionTime"/>), or null when the
    /// pruner does not report it or the layer was not pruned.
    /// </summary>
    public TimeSpan? SelectionTime { get; init; }

    /// <summary>
    /// The layer pruner's time solving for the consumer's new weights (<see cref="LayerPruningResult.RecompositionTime"/>),
    /// or null when the pruner does not report it or the layer was not pruned.
    /// </summary>
    public TimeSpan? RecompositionTime { get; init; }
}

/// <summary>
/// One channel-dependency group of the network: the output channels of one <see cref="Source"/> (a Conv2d or Linear),
/// the nodes pruned in lockstep with them and the nodes that read them.
/// </summary>
/// <remarks>
/// A group is pruned as one: the same channels are kept in the source's outputs, in every lockstep member (a depthwise
/// Conv2d's filters, a batch norm that could not be folded, a PReLU's per-channel slopes, the producer of a
/// squeeze-excitation gate) and in every consumer's inputs (for a consumer reading a concat, in the group's slice of it).
/// A group that touches a residual Add, a grouped (not depthwise) Conv2d, the network's input or output is coupled and
/// kept whole; <see cref="CoupledBy"/> says why.
/// </remarks>
public sealed record ChannelGroupReport
{
    /// <summary>The source's node name (its module path for a Sequential), which is also the group's name in the layer rows and in <see cref="NetworkPruningOptions.PerLayerKeepRatios"/>.</summary>
    public required string Source { get; init; }

    /// <summary>The source's output channels before pruning.</summary>
    public required int Channels { get; init; }

    /// <summary>The nodes pruned in lockstep with the source, in graph order.</summary>
    public required IReadOnlyList<string> Lockstep { get; init; }

    /// <summary>The Conv2d and Linear nodes that read the group's channels.</summary>
    public required IReadOnlyList<string> Consumers { get; init; }

    /// <summary>Why the group is kept whole, or null when it is prunable.</summary>
    public string? CoupledBy { get; init; }

    /// <summary>Whether the group can be pruned.</summary>
    public bool Prunable => CoupledBy is null;
}

/// <summary>What pruning did: per-layer widths, capacities, errors, costs and times, totals and latencies.</summary>
public sealed class PruningReport
{
    /// <summary>One row per Conv2d and Linear, in forward order.</summary>
    public required IReadOnlyList<LayerReport> Layers { get; init; }

    /// <summary>The network's channel-dependency groups (prunable and coupled), in the order of their sources.</summary>
    public IReadOnlyList<ChannelGroupReport> Groups { get; init; } = [];

    /// <summary>FLOPs (MACs per image) of the original network.</summary>
    public required long FlopsBefore { get; init; }

    /// <summary>FLOPs (MACs per image) of the pruned network.</summary>
    public required long FlopsAfter { get; init; }

    /// <summary>Parameters of the original network.</summary>
    public required long ParametersBefore { get; init; }

    /// <summary>Parameters of the pruned network.</summary>
    public required long ParametersAfter { get; init; }

    /// <summary>The achieved FLOPs reduction, <see cref="FlopsBefore"/> / <see cref="FlopsAfter"/>.</summary>
    public double FlopsReduction => (double)FlopsBefore / FlopsAfter;

    /// <summary>The target reduction, or null when per-layer ratios were given.</summary>
    public double? TargetFlopsReduction { get; init; }

    /// <summary>The total calibration time (all layers), see <see cref="LayerReport.CalibrationTime"/>.</summary>
    public TimeSpan CalibrationTime => Sum(l => l.CalibrationTime);

    /// <summary>The layer pruners' total decomposition time.</summary>
    public TimeSpan DecompositionTime => Sum(l => l.DecompositionTime);

    /// <summary>The layer pruners' total selection time.</summary>
    public TimeSpan SelectionTime => Sum(l => l.SelectionTime);

    /// <summary>The layer pruners' total recomposition time.</summary>
    public TimeSpan RecompositionTime => Sum(l => l.RecompositionTime);

    /// <summary>The number of calibration images whose statistics drove pruning.</summary>
    public required int CalibrationImages { get; init; }

    /// <summary>
    /// Calibration images held out of the statistics for the output check (0 when the check ran on the first
    /// calibration images; see <see cref="NetworkPruningOptions.HeldOutImages"/>).
    /// </summary>
    public int HeldOutImages { get; init; }

    /// <summary>
    /// The relative output error ‖y′ − y‖ / ‖y‖ of the pruned network against the original (an exact
    /// evaluation-mode copy) on the held-out images, both run under the process's libtorch settings. Always
    /// finite: a pruned network with a non-finite output is an exception, not a result.
    /// </summary>
    public required double HeldOutOutputError { get; init; }

    /// <summary>
    /// What the one-time probe of libtorch's CPU convolutions found wrong on this CPU, with the widths it tried and
    /// the remedy; null when it found nothing or the network is not on the CPU.
    /// </summary>
    public string? CpuConvolutionDefect { get; init; }

    /// <summary>
    /// What the run found questionable but not wrong enough to stop, also logged as warnings: calibration batches of
    /// another floating type than the network's, fewer calibration samples than a layer has channels, or a latency
    /// measurement that cannot tell the two networks apart (their quartiles overlap, or the pruned one measured slower
    /// with fewer FLOPs: noise on a loaded machine).
    /// </summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>The median CPU latency of the original network (an exact evaluation-mode copy) on a batch of <see cref="LatencyBatchSize"/> calibration images, or null if not measured.</summary>
    public TimeSpan? LatencyBefore { get; init; }

    /// <summary>The median CPU latency of the pruned network on the same batch, or null if not measured.</summary>
    public TimeSpan? LatencyAfter { get; init; }

    /// <summary>The images per timed forward pass of <see cref="LatencyBefore"/> and <see cref="LatencyAfter"/> (0 when not measured).</summary>
    public int LatencyBatchSize { get; init; }

    private TimeSpan Sum(Func<LayerReport, TimeSpan?> time) => Layers.Aggregate(TimeSpan.Zero, (total, l) => total + (time(l) ?? TimeSpan.Zero));

    /// <summary>A table with one row per layer, totals and latencies.</summary>
    public override string ToString()
    {
        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.AppendLine(c, $"{"Layer",-22} {"Type",-7} {"Channels",11} {"r",4} {"EmbErr",8} {"OutErr",8} {"FLOPs before",14} {"FLOPs after",14} {"Params before",14} {"Params after",13}");
        foreach (var l in Layers)
        {
            var r = l.ValidCapacity?.ToString(c) ?? "-";
            var emb = l.RelativeEmbeddingError?.ToString("0.0000", c) ?? "-";
            var output = l.RelativeOutputError?.ToString("0.0000", c) ?? "-";
            text.AppendLine(c, $"{l.Path,-22} {l.Type,-7} {l.ChannelsBefore,5}->{l.ChannelsAfter,-4} {r,4} {emb,8} {output,8} {l.FlopsBefore,14:N0} {l.FlopsAfter,14:N0} {l.ParametersBefore,14:N0} {l.ParametersAfter,13:N0}");
        }

        text.AppendLine(c, $"{"Total",-22} {string.Empty,-7} {string.Empty,11} {string.Empty,4} {string.Empty,8} {string.Empty,8} {FlopsBefore,14:N0} {FlopsAfter,14:N0} {ParametersBefore,14:N0} {ParametersAfter,13:N0}");
        text.Append(c, $"FLOPs reduction {FlopsReduction:0.00}x");
        if (TargetFlopsReduction is double target)
        {
            text.Append(c, $" (target {target:0.00}x)");
        }

        text.Append(c, $", parameters {(double)ParametersBefore / ParametersAfter:0.00}x fewer, {CalibrationImages} calibration images");
        if (LatencyBefore is TimeSpan before && LatencyAfter is TimeSpan after)
        {
            text.Append(c, $"; CPU latency for {LatencyBatchSize} image(s) {before.TotalMilliseconds:0.000} ms -> {after.TotalMilliseconds:0.000} ms ({before / after:0.00}x)");
        }

        text.AppendLine().Append(c, $"Output check on {(HeldOutImages > 0 ? $"{HeldOutImages} held-out" : "the first")} calibration images: relative error {HeldOutOutputError:0.0000} against the original");
        if (CpuConvolutionDefect is not null)
        {
            text.AppendLine().Append(c, $"Note: {CpuConvolutionDefect}");
        }

        foreach (var g in Groups)
        {
            text.AppendLine().Append(c,
                $"Group {g.Source} ({g.Channels} channels): lockstep [{string.Join(", ", g.Lockstep)}], consumers [{string.Join(", ", g.Consumers)}], {(g.Prunable ? "prunable" : "kept whole: " + g.CoupledBy)}");
        }

        foreach (var warning in Warnings)
        {
            text.AppendLine().Append(c, $"Warning: {warning}");
        }

        text.AppendLine().Append(c,
            $"Times: calibration {CalibrationTime.TotalSeconds:0.0} s, decomposition {DecompositionTime.TotalSeconds:0.0} s, selection {SelectionTime.TotalSeconds:0.0} s, recomposition {RecompositionTime.TotalSeconds:0.0} s");

        return text.ToString();
    }
}
