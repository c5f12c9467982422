using Ldrf.Statistics;
using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Runtime;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// Runs the original and the pruned-so-far graph over the calibration batches, on the network's device, and collects
/// the statistics of what each group's consumers read: the group's slice of each consumer's input tensor. It owns the
/// <see cref="CalibrationCache"/> of both networks' activations at a cut of the graph.
/// </summary>
/// <remarks>
/// The cache sits at a node whose output is the only tensor the later nodes read from it or from before it (a cut: in a
/// chain, every top-level layer; in a residual network, every block boundary). Groups are pruned front to back and a
/// group changes only its source, its lockstep members and its consumers, none of them before its source; so once the
/// groups before a cut are applied, both networks' activations there no longer change, and calibrating a later group
/// runs the networks from the cut instead of from the images, and only as far as its consumers' inputs.
/// </remarks>
internal sealed class GraphStatistics : IDisposable
{
    private readonly PrunableGraph _graph;
    private readonly string? _defect;
    private readonly CalibrationCache _cache;
    private readonly bool[] _cuts;
    private readonly NativeHeapTrimmer _heap = new();

    /// <param name="graph">The graph being pruned.</param>
    /// <param name="batches">The calibration batches whose statistics drive pruning (the caller's; never disposed here).</param>
    /// <param name="cacheBytes">The most that both networks' cached activations may take (0: run from the images every time).</param>
    /// <param name="defect">The CPU convolution probe's finding, for the messages on non-finite activations.</param>
    /// <param name="executor">An executor over the graph's nodes (which nodes are cuts).</param>
    public GraphStatistics(PrunableGraph graph, List<Tensor> batches, long cacheBytes, string? defect, GraphExecutor executor)
    {
        _graph = graph;
        _defect = defect;
        Images = batches.Sum(b => b.shape[0]);
        _cuts = [.. graph.Folded.Nodes.Select(n => executor.IsCut(n.Name))];
        var images = Images;
        _cache = new CalibrationCache(batches, cacheBytes,
            position => CacheBytes(graph.Shapes[graph.Folded.Nodes[position].Name], images, graph.Dtype), graph.Device, graph.Dtype);
    }

    /// <summary>How many calibration images the statistics run over.</summary>
    public long Images { get; }

    /// <summary>Each prunable group's statistics at its first consumer class's input on the original network alone, in one pass over the batches.</summary>
    /// <exception cref="ArgumentException">The original network's activations are not finite (ParamName: network).</exception>
    public ChannelStatistics[] OfOriginal(GraphExecutor original, IProgress<PruningProgress>? progress, CancellationToken cancellationToken)
    {
        if (_cache.Position != 0)
        {
            throw new InvalidOperationException("The original network's statistics are taken before any group is pruned.");
        }

        var reads = _graph.Groups.Select((g, j) => (Group: j, _graph.Classes[j][0].Input)).ToList();
        return Collect(original, null, reads, _graph.OriginalWidth, _graph.OriginalWidth, null, null, progress, cancellationToken);
    }

    /// <summary>
    /// Group <paramref name="j"/>'s statistics at the input of each of <paramref name="classes"/> (its consumers) on the pruned-so-far network
    /// (whose channel spaces have the widths <paramref name="width"/> gives) against the original, in class order, and,
    /// when <paramref name="patches"/> is given, the first class's patch statistics.
    /// </summary>
    /// <exception cref="ArgumentException">The original network's activations are not finite (ParamName: network; the message names the group).</exception>
    /// <exception cref="InvalidOperationException">The pruned-so-far network's activations are not finite where the original's are (the message names the group).</exception>
    public (ChannelStatistics[] Statistics, ChannelStatistics? Patches) OfGroup(
        GraphExecutor original, GraphExecutor pruned, int j, IReadOnlyList<ConsumerClass> classes, Func<int, int> width, PatchSampler? patches, CancellationToken cancellationToken)
    {
        TryMoveCache(_graph.Folded.IndexOf(_graph.Names[j]), original, pruned, cancellationToken);
        var reads = classes.Select(c => (Group: j, c.Input)).ToList();
        var statistics = Collect(original, pruned, reads, _graph.OriginalWidth, width, patches, _graph.Names[j], null, cancellationToken);
        return (statistics, patches?.ToChannelStatistics());
    }

    // Runs the original (and the pruned, if given) graph over the batches and accumulates the statistics of each read:
    // group `Group`'s slice of node `Input`'s output.
    private ChannelStatistics[] Collect(
        GraphExecutor original, GraphExecutor? pruned, List<(int Group, string Input)> reads, Func<int, int> originalWidth, Func<int, int> prunedWidth,
        PatchSampler? patches, string? layer, IProgress<PruningProgress>? progress, CancellationToken cancellationToken)
    {
        var accumulators = reads.Select(r => new ActivationStatistics(_graph.Groups[r.Group].Channels, _graph.Device)).ToList();
        try
        {
            var nodes = reads.Select(r => r.Input).Distinct().ToList();
            var from = CachedNode;
            for (var b = 0; b < _cache.BatchCount; b++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                _heap.BetweenBatches();
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var (x0, x1) = _cache.Inputs(b);
                var a0 = original.RunFrom(from, x0, nodes);
                var a1 = pruned is null ? a0 : pruned.RunFrom(from, x1, nodes);
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

                progress?.Report(new PruningProgress(PruningStage.MeasuringCapacity, null, b + 1, _cache.BatchCount));
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

    public void Dispose() => _cache.Dispose();

    // The node whose output the cache holds (the graph input at position 0; position p > 0 is node p − 1's output).
    private string CachedNode => _cache.Position == 0 ? _graph.Folded.InputName : _graph.Folded.Nodes[_cache.Position - 1].Name;

    // Moves the cache forward to the last cut before node `source` whose activations fit the limit (every group before
    // the source's is applied), running both networks from where the cache is; leaves it where it is when none does.
    private void TryMoveCache(int source, GraphExecutor original, GraphExecutor pruned, CancellationToken cancellationToken)
    {
        var cut = source - 1;
        while (cut >= 0 && (!_cuts[cut] || !_cache.Fits(cut + 1)))
        {
            cut--;
        }

        if (cut + 1 <= _cache.Position)
        {
            return;
        }

        var name = _graph.Folded.Nodes[cut].Name;
        var from = CachedNode;
        _cache.MoveTo(cut + 1, b =>
        {
            cancellationToken.ThrowIfCancellationRequested();
            _heap.BetweenBatches();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var (x0, x1) = _cache.Inputs(b);
            return (Owned(original.RunFrom(from, x0, [name])[name], x0).DetachFromDisposeScope(),
                Owned(pruned.RunFrom(from, x1, [name])[name], x1).DetachFromDisposeScope());
        });
    }

    // A node may pass its input on as it is (dropout, identity): the cache then needs its own tensor.
    private static Tensor Owned(Tensor value, Tensor input) => ReferenceEquals(value, input) ? value.clone() : value;

    // Both networks' activations of shape `shape` per image, for every calibration image (the pruned network's are no wider).
    private static long CacheBytes(long[] shape, long images, ScalarType dtype) =>
        2 * images * shape.Aggregate(1L, (a, b) => a * b) * (dtype switch
        {
            ScalarType.Float16 or ScalarType.BFloat16 => 2,
            ScalarType.Float32 => 4,
            _ => 8,
        });

    // The group's channels of a captured tensor: the whole tensor when the group is all of it (a chain), else its slice.
    private Tensor Slice(Tensor captured, (int Group, string Input) read, Func<int, int> width)
    {
        var group = _graph.Groups[read.Group];
        var (offset, channels) = _graph.Analysis.Slices(read.Input, group, width)[0];
        var perChannel = _graph.Analysis.FeaturesPerChannel(read.Input);
        return offset == 0 && channels * perChannel == captured.shape[1] ? captured : captured.narrow(1, offset * perChannel, channels * perChannel);
    }
}
