using Ldrf.Statistics;
using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Modules;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// Runs the original and the pruned-so-far network over the calibration batches, on the network's device, and
/// collects the statistics of what each unit's consumer reads. It owns the <see cref="CalibrationCache"/> and the
/// one loop that runs a chain forward (to move the cache and to capture the consumers' inputs).
/// </summary>
internal sealed class StatisticsCollector : IDisposable
{
    private readonly PrunableNetwork _network;
    private readonly CalibrationCache _cache;
    private readonly string? _defect;

    /// <param name="network">The network being pruned.</param>
    /// <param name="batches">The calibration batches whose statistics drive pruning.</param>
    /// <param name="cacheBytes">The most that both networks' cached activations may take (0: run from the images every time).</param>
    /// <param name="defect">The CPU convolution probe's finding, for the messages on non-finite activations.</param>
    public StatisticsCollector(PrunableNetwork network, List<Tensor> batches, long cacheBytes, string? defect)
    {
        _network = network;
        _defect = defect;
        var images = batches.Sum(b => b.shape[0]);
        Images = images;
        _cache = new CalibrationCache(batches, cacheBytes,
            position => CacheBytes(ShapeInference.Input(network.Shapes, position, network.ImageShape), images, network.Dtype), network.Device, network.Dtype);
    }

    /// <summary>How many calibration images the statistics run over.</summary>
    public long Images { get; }

    /// <summary>The statistics of every unit on the original network alone (nothing pruned yet), in one pass over the batches.</summary>
    /// <exception cref="ArgumentException">The original network's activations are not finite (ParamName: network).</exception>
    public ChannelStatistics[] OfOriginal(BuiltNetwork original, IProgress<PruningProgress>? progress, CancellationToken cancellationToken) =>
        Collect(original, null, _network.Units, null, null, progress, cancellationToken);

    /// <summary>
    /// The statistics of unit <paramref name="j"/> on the pruned-so-far network against the original, and, when
    /// <paramref name="patches"/> is given, its patch statistics. Moves the cache to the unit's first layer when the
    /// activations there fit the limit (every unit before it is applied), else runs from where the cache is.
    /// </summary>
    /// <exception cref="ArgumentException">The original network's activations are not finite (ParamName: network; the message names the layer).</exception>
    /// <exception cref="InvalidOperationException">The pruned-so-far network's activations are not finite where the original's are (the message names the layer).</exception>
    public (ChannelStatistics Statistics, ChannelStatistics? Patches) OfLayer(
        BuiltNetwork original, BuiltNetwork pruned, int j, PatchSampler? patches, CancellationToken cancellationToken)
    {
        var unit = _network.Units[j];
        TryMoveCache(unit.Block ?? unit.Producer, original, pruned, cancellationToken);
        var statistics = Collect(original, pruned, [unit], patches, _network.Names[j], null, cancellationToken)[0];
        return (statistics, patches?.ToChannelStatistics());
    }

    public void Dispose() => _cache.Dispose();

    // Runs the original (and the pruned, if given) network over the batches, from the inputs held by the cache, and
    // accumulates each unit's statistics.
    private ChannelStatistics[] Collect(
        BuiltNetwork original, BuiltNetwork? pruned, IReadOnlyList<PrunableUnit> units, PatchSampler? patches, string? layer,
        IProgress<PruningProgress>? progress, CancellationToken cancellationToken)
    {
        using var accumulators = new Accumulators(units, _network.Device);
        for (var b = 0; b < _cache.BatchCount; b++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var (x0, x1) = _cache.Inputs(b);
            var a0 = Capture(original, x0, units);
            var a1 = pruned is null ? a0 : Capture(pruned, x1, units);
            for (var j = 0; j < units.Count; j++)
            {
                accumulators[j].Add(a1[j], a0[j]);
            }

            patches?.Add(a1[0], a0[0]);

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

    // Moves the cache forward to the input of top-level layer `position`, running the layers in between on each
    // network; leaves it where it is when those activations would exceed the limit.
    private void TryMoveCache(int position, BuiltNetwork original, BuiltNetwork pruned, CancellationToken cancellationToken)
    {
        if (position == _cache.Position || !_cache.Fits(position))
        {
            return;
        }

        var movedOriginal = new Tensor[_cache.BatchCount];
        var movedPruned = new Tensor[_cache.BatchCount];
        try
        {
            for (var b = 0; b < _cache.BatchCount; b++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var (x0, x1) = _cache.Inputs(b);
                movedOriginal[b] = Forward(original, x0, _cache.Position, position, [], []).DetachFromDisposeScope();
                movedPruned[b] = Forward(pruned, x1, _cache.Position, position, [], []).DetachFromDisposeScope();
            }
        }
        catch
        {
            CalibrationCache.Dispose(movedOriginal);
            CalibrationCache.Dispose(movedPruned);
            throw;
        }

        _cache.MoveTo(position, movedOriginal, movedPruned);
    }

    // Runs the network from the cache's position just far enough to capture every unit's consumer input: the output
    // of a top-level layer, or, for a unit inside a residual block, of a layer of its main branch.
    private Tensor[] Capture(BuiltNetwork network, Tensor x, IReadOnlyList<PrunableUnit> units)
    {
        var captured = new Tensor[units.Count];
        var last = units.Max(u => u.Block ?? u.Capture);
        var to = units.Any(u => u.Block is null && u.Capture == last) ? last + 1 : last;
        Forward(network, x, _cache.Position, to, units, captured);
        return captured;
    }

    /// <summary>
    /// The one forward loop: runs top-level layers <paramref name="from"/> to <paramref name="to"/> − 1 on
    /// <paramref name="x"/> and returns the input of layer <paramref name="to"/>. On the way it stores in
    /// <paramref name="captured"/> the consumer input of each of <paramref name="units"/>; a residual block that holds
    /// units (layer <paramref name="to"/> included) first runs its main branch up to the last of them.
    /// </summary>
    private static Tensor Forward(BuiltNetwork network, Tensor x, int from, int to, IReadOnlyList<PrunableUnit> units, Tensor[] captured)
    {
        for (var i = from; i <= to && i < network.Leaves.Count; i++)
        {
            var layer = network.Leaves[i];
            if (layer is ResidualBlock block && units.Any(u => u.Block == i))
            {
                var y = x;
                var lastInner = units.Where(u => u.Block == i).Max(u => u.Capture);
                for (var k = 0; k <= lastInner; k++)
                {
                    y = block.MainBranch[k].Module.forward(y);
                    Store(captured, units, i, k, y);
                }
            }

            if (i == to)
            {
                break;
            }

            x = layer.forward(x);
            Store(captured, units, null, i, x);
        }

        return x;
    }

    private static void Store(Tensor[] captured, IReadOnlyList<PrunableUnit> units, int? block, int index, Tensor value)
    {
        for (var j = 0; j < units.Count; j++)
        {
            if (units[j].Block == block && units[j].Capture == index)
            {
                captured[j] = value;
            }
        }
    }

    // Both networks' activations of shape `shape` per image, for every calibration image (the pruned network's are no wider).
    private static long CacheBytes(long[] shape, long images, ScalarType dtype) =>
        2 * images * shape.Aggregate(1L, (a, b) => a * b) * (dtype switch
        {
            ScalarType.Float16 or ScalarType.BFloat16 => 2,
            ScalarType.Float32 => 4,
            _ => 8,
        });

    /// <summary>One device accumulator per unit, disposed together.</summary>
    private sealed class Accumulators(IReadOnlyList<PrunableUnit> units, Device device) : List<ActivationStatistics>(units.Select(u => new ActivationStatistics(u.Channels, device))), IDisposable
    {
        public void Dispose()
        {
            foreach (var accumulator in this)
            {
                accumulator.Dispose();
            }
        }
    }
}
