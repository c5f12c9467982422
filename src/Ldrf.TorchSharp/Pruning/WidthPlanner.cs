using Ldrf.Allocation;
using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Complexity;
using Ldrf.TorchSharp.Numerics;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// Decides every prunable layer's kept width before any layer is pruned: from the FLOPs target (allocated by
/// <see cref="WidthAllocator"/> under each layer's valid capacity, estimated on the original network, when
/// capacity bounds are on) or from the per-layer keep ratios. FLOPs are priced by the cost model of
/// <see cref="ModelComplexity"/>, so the reduction planned is the one the report counts.
/// </summary>
internal static class WidthPlanner
{
    /// <summary>The kept width of each group of <paramref name="subject"/>, by name, and, for error-curve allocation with <see cref="NetworkPruningOptions.ReviseErrorCurves"/>, what revises them group by group.</summary>
    /// <exception cref="ArgumentException">The layer pruner cannot estimate a capacity, an unknown layer in the ratios, or an unreachable target (from <see cref="WidthAllocator"/>).</exception>
    public static WidthPlan Plan(ILayerPruner layerPruner, WidthPlanSubject subject, NetworkPruningOptions options, PruningLog log, CancellationToken cancellationToken)
    {
        var names = subject.Names;
        var capacities = names.Select(_ => 1).ToArray();
        var bounded = options.TargetFlopsReduction is not null && options.UseCapacityBounds;
        var byError = options.TargetFlopsReduction is not null && options.Allocation == WidthAllocationKind.ErrorCurves;
        var estimator = layerPruner as ICapacityEstimator;
        if (bounded && estimator is null)
        {
            throw new ArgumentException(
                $"'{nameof(options)}.{nameof(options.UseCapacityBounds)}' is true, but the layer pruner {layerPruner.GetType().Name} estimates no valid capacity (it is not an {nameof(ICapacityEstimator)}); set it to false to allocate widths without capacity bounds.",
                nameof(options));
        }

        // The curves are LDRF's, whichever layer pruner reconstructs: the widths are then measured apart from it.
        var analyst = !byError ? null : layerPruner as LdrfLayerPruner ?? new LdrfLayerPruner(new LdrfOptions(), new TorchNumericBackend());
        var curves = new Dictionary<string, IReadOnlyList<double>>(StringComparer.Ordinal);

        // Curves measured at the output at every width replace the layers' own, which are then not needed.
        var layerCurves = analyst is not null && options.CurveScale != ErrorCurveScale.OutputAtEveryWidth;
        if (bounded || layerCurves)
        {
            // Valid capacities and error curves come from the original network: its statistics with nothing pruned
            // yet, in one pass (later layers' curves do not see the earlier layers' pruning).
            var requests = subject.OriginalRequests();
            for (var j = 0; j < names.Count; j++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (bounded)
                {
                    capacities[j] = Math.Clamp(estimator!.EstimateCapacity(requests[j], cancellationToken), 1, subject.Channels[j]);
                }

                if (layerCurves)
                {
                    curves[names[j]] = analyst!.EstimateErrorCurve(requests[j], cancellationToken);
                }
            }
        }

        var prunable = names.Select((name, j) => new PrunableLayer(name, subject.Channels[j], capacities[j]));
        var allocator = new WidthAllocator(prunable, subject.ComputeLayers, channelMultiple: options.ChannelMultiple)
        {
            UnreachableHint = subject.KeptStreams > 0 && !options.PruneResidualStreams
                ? $" {subject.KeptStreams} layer(s) whose outputs residual Adds tie together keep their widths; set '{nameof(options)}.{nameof(options.PruneResidualStreams)}' to true to prune these residual streams too."
                : "",
        };
        var targetName = $"{nameof(options)}.{nameof(options.TargetFlopsReduction)}";
        if (analyst is not null && options.CurveScale != ErrorCurveScale.Layer)
        {
            curves = OnOutputScale(curves, subject, allocator, options, targetName, cancellationToken);
        }

        var allocation = options.TargetFlopsReduction is not double target
            ? allocator.FromRatios(options.PerLayerKeepRatios!, nameof(options), $"{nameof(options)}.{nameof(options.PerLayerKeepRatios)}")
            : options.Allocation switch
            {
                WidthAllocationKind.ErrorCurves => allocator.AllocateByError(target, curves, minimumWidth: 1, nameof(options), targetName),
                WidthAllocationKind.GlobalMagnitude => allocator.AllocateByScores(target, Magnitudes(subject), nameof(options), targetName),
                _ => allocator.Allocate(target, nameof(options), targetName,
                    $"set '{nameof(options)}.{nameof(options.UseCapacityBounds)}' to false (it keeps every layer at or above its valid capacity)"),
            };
        log.Widths(names, allocation);
        return new WidthPlan(allocation.KeepCounts, analyst is not null && options.ReviseErrorCurves
            ? new ErrorCurveReviser(allocator, curves, options.TargetFlopsReduction!.Value, analyst, nameof(options), targetName)
            : null);
    }

    // The curves on the scale of the network's output: each layer's squared relative output error with it alone pruned,
    // measured at its uniform width (the layer's own curve scaled to pass through it) or at every allowed width (the
    // widths in between interpolated), all divided by the largest so that they stay in [0, 1].
    private static Dictionary<string, IReadOnlyList<double>> OnOutputScale(
        Dictionary<string, IReadOnlyList<double>> curves, WidthPlanSubject subject, WidthAllocator allocator, NetworkPruningOptions options,
        string targetName, CancellationToken cancellationToken)
    {
        var error = subject.OutputError ?? throw new InvalidOperationException("Output-scaled error curves need the output error of a pruned group.");
        var uniform = allocator.Allocate(options.TargetFlopsReduction!.Value, nameof(options), targetName, "").KeepCounts;
        var scaled = new Dictionary<string, double[]>(StringComparer.Ordinal);
        for (var j = 0; j < subject.Names.Count; j++)
        {
            var name = subject.Names[j];
            var channels = subject.Channels[j];
            var widths = allocator.AllowedWidths(channels);
            if (widths.Length == 1)
            {
                // No allowed width below the full one: the allocator never narrows it, whatever its curve.
                scaled[name] = new double[channels + 1];
                continue;
            }

            if (options.CurveScale == ErrorCurveScale.OutputAtOneWidth)
            {
                var curve = curves[name];
                var probe = Math.Min(uniform[name], widths[^2]);
                var measured = error(j, probe, cancellationToken);
                scaled[name] = curve[probe] > 0 ? [.. curve.Select(e => e * measured / curve[probe])] : [.. curve];
                continue;
            }

            // Every allowed width below the full one, measured; between them linear, below the narrowest flat.
            var values = widths.Select(w => w == channels ? 0 : error(j, w, cancellationToken)).ToArray();
            var measuredCurve = new double[channels + 1];
            for (var k = 0; k <= channels; k++)
            {
                var above = Array.FindIndex(widths, w => w >= k);
                measuredCurve[k] = above == 0 ? values[0]
                    : values[above - 1] + ((values[above] - values[above - 1]) * (k - widths[above - 1]) / (widths[above] - widths[above - 1]));
            }

            scaled[name] = measuredCurve;
        }

        var largest = scaled.Values.SelectMany(c => c).Where(double.IsFinite).DefaultIfEmpty(0).Max();
        return scaled.ToDictionary(p => p.Key, p => (IReadOnlyList<double>)[.. p.Value.Select(e => largest > 0 ? Math.Clamp(e / largest, 0, 1) : 0)], StringComparer.Ordinal);
    }

    // Each channel's L2 norm of its source's weights (batch norm folded in), for the global magnitude ranking.
    private static Dictionary<string, IReadOnlyList<double>> Magnitudes(WidthPlanSubject subject) =>
        subject.Names.Select((name, j) => (name, subject.SourceMatrix(j)))
            .ToDictionary(p => p.name, p => (IReadOnlyList<double>)p.Item2.EnumerateRows().Select(r => r.L2Norm()).ToArray(), StringComparer.Ordinal);
}

/// <summary>
/// What the width planner needs of a network: the prunable units' (or groups') names and widths, their requests on the
/// original network (statistics with nothing pruned; taken only when capacities or error curves are needed), their
/// sources' weights (for the magnitude ranking) and the cost model linking widths to FLOPs.
/// </summary>
internal sealed record WidthPlanSubject(
    IReadOnlyList<string> Names, int[] Channels, Func<IReadOnlyList<LayerPruningRequest>> OriginalRequests,
    Func<int, MathNet.Numerics.LinearAlgebra.Matrix<double>> SourceMatrix, List<ComputeLayer> ComputeLayers)
{
    /// <summary>How many layers keep their widths because residual Adds tie their outputs (named in an unreachable target's message).</summary>
    public int KeptStreams { get; init; }

    /// <summary>The squared relative output error with group j alone pruned to a width (for output-scaled error curves), or null.</summary>
    public Func<int, int, CancellationToken, double>? OutputError { get; init; }
}

/// <summary>The widths planned before pruning, and what revises them as layers are pruned (null: they stand).</summary>
internal sealed record WidthPlan(IReadOnlyDictionary<string, int> KeepCounts, ErrorCurveReviser? Reviser);

/// <summary>
/// Error-curve allocation with propagation: when a layer's turn comes, its curve is recomputed on the pruned-so-far
/// network's statistics (its inputs already pruned) and the budget is re-allocated over it and the layers after it,
/// the layers before keeping the widths they were pruned to.
/// </summary>
internal sealed class ErrorCurveReviser(
    WidthAllocator allocator, Dictionary<string, IReadOnlyList<double>> curves, double target, LdrfLayerPruner analyst, string paramName, string targetName)
{
    private readonly Dictionary<string, int> _decided = new(StringComparer.Ordinal);

    /// <summary>The width for the layer of <paramref name="request"/> (statistics on the pruned-so-far network), recorded as decided.</summary>
    public int Revise(LayerPruningRequest request, CancellationToken cancellationToken)
    {
        curves[request.LayerName] = analyst.EstimateErrorCurve(request, cancellationToken);
        var width = allocator.AllocateByError(target, curves, minimumWidth: 1, paramName, targetName, _decided).KeepCounts[request.LayerName];
        _decided[request.LayerName] = width;
        return width;
    }
}
