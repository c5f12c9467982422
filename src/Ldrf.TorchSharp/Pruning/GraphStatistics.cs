using Ldrf.Statistics;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>Runs a built graph on one batch and returns the outputs of the named nodes (or of the input).</summary>
internal delegate IReadOnlyDictionary<string, Tensor> GraphCapture(Tensor x, IReadOnlyCollection<string> nodes);

/// <summary>
/// Runs the original and the pruned-so-far graph over the calibration batches, on the network's device, and collects
/// the statistics of what each group's consumers read: the group's slice of each consumer's input tensor.
/// </summary>
internal sealed class GraphStatistics
{
    private readonly PrunableGraph _graph;
    private readonly List<Tensor> _batches;
    private readonly string? _defect;

    /// <param name="graph">The graph being pruned.</param>
    /// <param name="batches">The calibration batches whose statistics drive pruning (the caller's; never disposed here).</param>
    /// <param name="defect">The CPU convolution probe's finding, for the messages on non-finite activations.</param>
    public GraphStatistics(PrunableGraph graph, List<Tensor> batches, string? defect)
    {
        _graph = graph;
        _batches = batches;
        _defect = defect;
        Images = batches.Sum(b => b.shape[0]);
    }

    /// <summary>How many calibration images the statistics run over.</summary>
    public long Images { get; }

    /// <summary>Each prunable group's statistics at its first consumer class's input on the original network alone, in one pass over the batches.</summary>
    /// <exception cref="ArgumentException">The original network's activations are not finite (ParamName: network).</exception>
    public ChannelStatistics[] OfOriginal(GraphCapture original, IProgress<PruningProgress>? progress, CancellationToken cancellationToken)
    {
        var reads = _graph.Groups.Select((g, j) => (Group: j, _graph.Classes[j][0].Input)).ToList();
        return Collect(original, null, reads, _graph.OriginalWidth, _graph.OriginalWidth, null, null, progress, cancellationToken);
    }

    /// <summary>
    /// Group <paramref name="j"/>'s statistics at each of its consumer classes' inputs on the pruned-so-far network
    /// (whose channel spaces have the widths <paramref name="width"/> gives) against the original, in class order, and,
    /// when <paramref name="patches"/> is given, the first class's patch statistics.
    /// </summary>
    /// <exception cref="ArgumentException">The original network's activations are not finite (ParamName: network; the message names the group).</exception>
    /// <exception cref="InvalidOperationException">The pruned-so-far network's activations are not finite where the original's are (the message names the group).</exception>
    public (ChannelStatistics[] Statistics, ChannelStatistics? Patches) OfGroup(
        GraphCapture original, GraphCapture pruned, int j, Func<int, int> width, PatchSampler? patches, CancellationToken cancellationToken)
    {
        var reads = _graph.Classes[j].Select(c => (Group: j, c.Input)).ToList();
        var statistics = Collect(original, pruned, reads, _graph.OriginalWidth, width, patches, _graph.Names[j], null, cancellationToken);
        return (statistics, patches?.ToChannelStatistics());
    }

    // Runs the original (and the pruned, if given) graph over the batches and accumulates the statistics of each read:
    // group `Group`'s slice of node `Input`'s output.
    private ChannelStatistics[] Collect(
        GraphCapture original, GraphCapture? pruned, List<(int Group, string Input)> reads, Func<int, int> originalWidth, Func<int, int> prunedWidth,
        PatchSampler? patches, string? layer, IProgress<PruningProgress>? progress, CancellationToken cancellationToken)
    {
        var accumulators = reads.Select(r => new ActivationStatistics(_graph.Groups[r.Group].Channels, _graph.Device)).ToList();
        try
        {
            var nodes = reads.Select(r => r.Input).Distinct().ToList();
            for (var b = 0; b < _batches.Count; b++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var x = _batches[b].to(_graph.Dtype, _graph.Device);
                var a0 = original(x, nodes);
                var a1 = pruned is null ? a0 : pruned(x, nodes);
                for (var k = 0; k < reads.Count; k++)
                {
                    var s0 = Slice(a0[reads[k].Input], reads[k], originalWidth);
                    var s1 = pruned is null ? s0 : Slice(a1[reads[k].Input], reads[k], prunedWidth);
                    accumulators[k].Add(s1, s0);
                    if (k == 0)
                    {
                        patches?.Add(s1, s0);
                    }
                }

                progress?.Report(new PruningProgress(PruningStage.MeasuringCapacity, null, b + 1, _batches.Count));
            }

            // The one finiteness check of the sums: the core takes them as they are.
            if (accumulators.Any(a => !a.IsFinite) || patches is { IsFinite: false })
            {
                var where = layer is null ? "While measuring the layers' valid capacities" : $"While pruning '{layer}'";
                var cause = _defect ?? "The one-time probe found no libtorch convolution defect on this device.";
                if (accumulators.Any(a => !a.OriginalIsFinite) || patches is { OriginalIsFinite: false })
                {
                    // Finite weights and images (both checked) whose activations still overflow: the argument is at fault.
                    throw new ArgumentException(
                        $"{where}: the network's own activations on the calibration images are not finite (NaN or overflow to infinity), so no statistics can be taken. {cause} Check the scale of the network's weights and of the images; the caller's network is unchanged.",
                        "network");
                }

                // The pruned-so-far network computed NaN or infinity where the original did not.
                throw new InvalidOperationException(
                    $"{where}: the pruned-so-far network's activations on the calibration images are not finite although the original's are. {cause} If NetworkPruningOptions.ChannelMultiple is below 16, set it back to 16; otherwise report this with the network's layer widths. The caller's network is unchanged.");
            }

            return [.. accumulators.Select(a => a.ToChannelStatistics())];
        }
        finally
        {
            foreach (var accumulator in accumulators)
            {
                accumulator.Dispose();
            }
        }
    }

    // The group's channels of a captured tensor: the whole tensor when the group is all of it (a chain), else its slice.
    private Tensor Slice(Tensor captured, (int Group, string Input) read, Func<int, int> width)
    {
        var group = _graph.Groups[read.Group];
        var (offset, channels) = _graph.Analysis.Slices(read.Input, group, width)[0];
        var perChannel = _graph.Analysis.FeaturesPerChannel(read.Input);
        return offset == 0 && channels * perChannel == captured.shape[1] ? captured : captured.narrow(1, offset * perChannel, channels * perChannel);
    }
}
