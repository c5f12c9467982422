using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Complexity;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>What the output check on held-out images found.</summary>
internal sealed record OutputCheckResult(int HeldOutImages, double RelativeError, string? Defect);

/// <summary>How long one forward pass of each network took on the CPU, over how many images.</summary>
/// <summary>The latency probe's medians, the images per pass and each network's quartiles.</summary>
internal sealed record LatencyResult(TimeSpan Before, TimeSpan After, int Images, (TimeSpan Lower, TimeSpan Upper) BeforeQuartiles, (TimeSpan Lower, TimeSpan Upper) AfterQuartiles)
{
    /// <summary>
    /// Why the ratio should not be trusted, or null: the pruned network's quartiles reach the original's (the two
    /// cannot be told apart, as on a loaded machine), or it measured slower although it has fewer FLOPs.
    /// </summary>
    public string? Doubt(double flopsReduction)
    {
        var c = System.Globalization.CultureInfo.InvariantCulture;
        var ranges = string.Create(c, $"original {BeforeQuartiles.Lower.TotalMilliseconds:0.0}-{BeforeQuartiles.Upper.TotalMilliseconds:0.0} ms, pruned {AfterQuartiles.Lower.TotalMilliseconds:0.0}-{AfterQuartiles.Upper.TotalMilliseconds:0.0} ms between quartiles");
        if (flopsReduction > 1 && After >= Before)
        {
            return string.Create(c, $"The pruned network measured no faster than the original ({Before.TotalMilliseconds:0.0} ms -> {After.TotalMilliseconds:0.0} ms; {ranges}) although it has {flopsReduction:0.00}x fewer FLOPs: on a loaded machine this ratio is noise; measure again on a quiet one (more NetworkPruningOptions.LatencyRuns) or with a benchmark.");
        }

        return AfterQuartiles.Upper >= BeforeQuartiles.Lower
            ? string.Create(c, $"The latency measurement cannot tell the two networks apart ({ranges}): the ratio {Before / After:0.00}x is within the noise of this machine; measure again on a quiet one (more NetworkPruningOptions.LatencyRuns) or with a benchmark.")
            : null;
    }
}

/// <summary>Builds the <see cref="PruningReport"/>: one row per Conv2d and Linear of the original network, the totals and the channel-dependency groups.</summary>
internal static class ReportBuilder
{
    public static PruningReport Build(
        GraphModel original, GraphModel pruned, ChannelGroups groups, ComplexityReport before, ComplexityReport after,
        Dictionary<string, LayerPruningResult> results, Dictionary<string, TimeSpan> calibrationTimes, NetworkPruningOptions options, int calibrationImages,
        LatencyResult? latency, OutputCheckResult check, IReadOnlyList<string> warnings)
    {
        var rows = new List<LayerReport>();
        var kept = pruned.Nodes.Select(n => n.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var node in original.Nodes)
        {
            var spec = node.Op;
            if (spec is not (Conv2dSpec or LinearSpec))
            {
                continue;
            }

            // A batch norm folded into this layer read it and is gone from the pruned graph.
            var bnParameters = original.Consumers(node.Name).Where(c => c.Op is BatchNorm2dSpec && !kept.Contains(c.Name)).Sum(c => before[c.Name].Parameters);
            var prunedSpec = pruned[node.Name].Op;
            results.TryGetValue(spec.Path, out var result);
            calibrationTimes.TryGetValue(spec.Path, out var calibrationTime);
            rows.Add(new LayerReport
            {
                Path = spec.Path,
                Type = spec.TypeName,
                ChannelsBefore = Channels(spec),
                ChannelsAfter = Channels(prunedSpec),
                ValidCapacity = result?.ValidCapacity,
                RelativeEmbeddingError = result?.RelativeEmbeddingError,
                RelativeOutputError = result?.RelativeOutputError,
                FlopsBefore = before[spec.Path].Flops,
                FlopsAfter = after[spec.Path].Flops,
                ParametersBefore = before[spec.Path].Parameters + bnParameters,
                ParametersAfter = after[spec.Path].Parameters,
                CalibrationTime = result is null ? null : calibrationTime,
                DecompositionTime = result?.DecompositionTime,
                SelectionTime = result?.SelectionTime,
                RecompositionTime = result?.RecompositionTime,
            });
        }

        return new PruningReport
        {
            Layers = rows,
            FlopsBefore = before.TotalFlops,
            FlopsAfter = after.TotalFlops,
            ParametersBefore = before.TotalParameters,
            ParametersAfter = after.TotalParameters,
            TargetFlopsReduction = options.TargetFlopsReduction,
            CalibrationImages = calibrationImages,
            LatencyBefore = latency?.Before,
            LatencyAfter = latency?.After,
            LatencyBatchSize = latency?.Images ?? 0,
            HeldOutImages = check.HeldOutImages,
            HeldOutOutputError = check.RelativeError,
            CpuConvolutionDefect = check.Defect,
            Warnings = warnings,
            Groups = [.. groups.Groups.Select(g => new ChannelGroupReport
            {
                Source = g.Name,
                Channels = g.Channels,
                Lockstep = g.Lockstep,
                Consumers = g.Consumers,
                CoupledBy = g.CoupledBy,
            })],
        };
    }

    private static int Channels(LayerSpec producer) => producer switch
    {
        Conv2dSpec c => c.OutChannels,
        LinearSpec l => l.OutFeatures,
        _ => throw new InvalidOperationException(),
    };
}
