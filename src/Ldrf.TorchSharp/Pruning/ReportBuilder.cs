using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Complexity;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>What the output check on held-out images found.</summary>
internal sealed record OutputCheckResult(int HeldOutImages, double RelativeError, string? Defect);

/// <summary>How long one forward pass of each network took on the CPU, over how many images.</summary>
internal sealed record LatencyResult(TimeSpan Before, TimeSpan After, int Images);

/// <summary>Builds the <see cref="PruningReport"/>: one row per Conv2d and Linear of the original network, and the totals.</summary>
internal static class ReportBuilder
{
    public static PruningReport Build(
        ChainModel original, ChainModel pruned, ComplexityReport before, ComplexityReport after,
        Dictionary<string, LayerPruningResult> results, Dictionary<string, TimeSpan> calibrationTimes, NetworkPruningOptions options, int calibrationImages,
        LatencyResult? latency, OutputCheckResult check, IReadOnlyList<string> warnings)
    {
        var rows = new List<LayerReport>();
        var originalLeaves = LayerSpec.Leaves(original.Layers).ToList();
        var prunedLeaves = LayerSpec.Leaves(pruned.Layers).ToList();
        for (var i = 0; i < originalLeaves.Count; i++)
        {
            var spec = originalLeaves[i];
            if (spec is not (Conv2dSpec or LinearSpec))
            {
                continue;
            }

            // A folded batch norm directly follows its convolution in the same chain, so also among the leaves.
            var bnParameters = i + 1 < originalLeaves.Count && originalLeaves[i + 1] is BatchNorm2dSpec bn ? before[bn.Path].Parameters : 0;
            var prunedSpec = prunedLeaves.First(l => l.Path == spec.Path);
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
        };
    }

    private static int Channels(LayerSpec producer) => producer switch
    {
        Conv2dSpec c => c.OutChannels,
        LinearSpec l => l.OutFeatures,
        _ => throw new InvalidOperationException(),
    };
}
