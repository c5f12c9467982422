using Ldrf.TorchSharp.Architecture;
using Microsoft.Extensions.Logging.Abstractions;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// How far the network's output moves when one group alone is pruned: the group is pruned to a width on a copy of the
/// original network (by the same layer pruner and group step as the real run) and both networks run over the
/// calibration images. The width planner reads it to put LDRF's per-layer error curves on the scale of the output.
/// </summary>
internal sealed class OutputSensitivity : IDisposable
{
    private readonly PrunableGraph _graph;
    private readonly BuiltGraph _original;
    private readonly List<Tensor> _batches;
    private readonly string? _defect;
    private readonly GraphStatistics _collector;
    private readonly GroupStep _step;

    /// <param name="layerPruner">The pruner of the real run.</param>
    /// <param name="graph">The network's groups.</param>
    /// <param name="original">The original network (batch norms folded), built; not owned.</param>
    /// <param name="batches">The calibration images the statistics and the output error run over.</param>
    /// <param name="options">The run's options (cache size, patch samples, seed).</param>
    /// <param name="defect">The CPU convolution defect, for the output check's messages.</param>
    public OutputSensitivity(ILayerPruner layerPruner, PrunableGraph graph, BuiltGraph original, List<Tensor> batches, NetworkPruningOptions options, string? defect)
    {
        (_graph, _original, _batches, _defect) = (graph, original, batches, defect);
        _collector = new GraphStatistics(graph, batches, options.CalibrationCacheBytes, defect, original.Executor);

        // The probes' pruning is not the run's: nothing of it is logged.
        _step = new GroupStep(layerPruner, graph, _collector, options, new PruningLog(NullLogger.Instance));
    }

    /// <summary>
    /// The squared relative output error ‖y′ − y‖² / ‖y‖² over the calibration images with group <paramref name="j"/>
    /// alone pruned to <paramref name="keep"/> channels. Groups must be probed in order (the calibration cache moves forward).
    /// </summary>
    public double SquaredError(int j, int keep, CancellationToken cancellationToken)
    {
        using var probe = _graph.Folded.Clone();
        _step.Prune(j, _original.Executor, probe, new Dictionary<int, int>(), keep, cancellationToken);
        using var built = probe.Build(_graph.Device, _graph.Dtype, share: true);
        var error = OutputCheck.RelativeError(_original.Network, built.Network, _batches, heldOut: false, _graph.Device, _graph.Dtype, _defect, cancellationToken);
        return error * error;
    }

    public void Dispose() => _collector.Dispose();
}
