using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Complexity;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// What the report keeps of one pruned group: the layer pruner's measurements and the calibration time, without its
/// weights (a VGG-16 group's new consumer weights are hundreds of MB, applied to the graph as soon as they exist).
/// </summary>
internal sealed record GroupOutcome(
    int? ValidCapacity, double? RelativeEmbeddingError, double RelativeOutputError, TimeSpan CalibrationTime,
    TimeSpan? DecompositionTime, TimeSpan? SelectionTime, TimeSpan? RecompositionTime)
{
    public static GroupOutcome Of(LayerPruningResult result, TimeSpan calibrationTime) => new(
        result.ValidCapacity, result.RelativeEmbeddingError, result.RelativeOutputError, calibrationTime,
        result.DecompositionTime, result.SelectionTime, result.RecompositionTime);
}

/// <summary>What the output check on held-out images found.</summary>
internal sealed record OutputCheckResult(int HeldOutImages, double RelativeError, string? Defect);

/// <summary>Builds the <see cref="PruningReport"/>: one row per Conv2d and Linear of the original network, the totals and the channel-dependency groups.</summary>
internal static class ReportBuilder
{
    public static PruningReport Build(
        GraphModel original, GraphModel pruned, ChannelGroups groups, ComplexityReport before, ComplexityReport after,
        Dictionary<string, GroupOutcome> outcomes, NetworkPruningOptions options, int calibrationImages,
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
            outcomes.TryGetValue(spec.Path, out var outcome);
            rows.Add(new LayerReport
            {
                Path = spec.Path,
                Type = spec.TypeName,
                ChannelsBefore = Channels(spec),
                ChannelsAfter = Channels(prunedSpec),
                ValidCapacity = outcome?.ValidCapacity,
                RelativeEmbeddingError = outcome?.RelativeEmbeddingError,
                RelativeOutputError = outcome?.RelativeOutputError,
                FlopsBefore = before[spec.Path].Flops,
                FlopsAfter = after[spec.Path].Flops,
                ParametersBefore = before[spec.Path].Parameters + bnParameters,
                ParametersAfter = after[spec.Path].Parameters,
                CalibrationTime = outcome?.CalibrationTime,
                DecompositionTime = outcome?.DecompositionTime,
                SelectionTime = outcome?.SelectionTime,
                RecompositionTime = outcome?.RecompositionTime,
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
