using Ldrf.Allocation;
using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Numerics;
using Ldrf.TorchSharp.Runtime;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// Prunes a TorchSharp CNN with LDRF (or any <see cref="ILayerPruner"/>) and returns a new, physically
/// smaller network. The caller's network and calibration tensors are never modified.
/// </summary>
/// <remarks>
/// <para>
/// The network is a <see cref="Graphs.GraphNetwork"/>, or a Sequential (nested Sequentials allowed) of Conv2d,
/// BatchNorm2d, ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Dropout, Flatten, Linear and
/// <see cref="Modules.ResidualBlock"/>. Either is read into one graph of named nodes, and a batch norm that reads a
/// convolution read by nothing else is folded into it. The result has the input's kind: a Sequential with the same
/// paths, or a GraphNetwork with the same node names.
/// </para>
/// <para>
/// What is pruned are channel-dependency groups (<see cref="PruningReport.Groups"/>): the output channels of a Conv2d or
/// Linear, with the nodes that must lose the same channels (a depthwise convolution, a batch norm that could not be
/// folded, a per-channel PReLU, a squeeze-excitation gate's producer) and the Conv2d and Linear nodes that read them (in
/// their slice of a concat; a Linear after Flatten reads each channel's spatial group). A group that meets a residual
/// add, a grouped convolution, the network's input or output is kept whole: in a ResidualBlock only the main branch's
/// inner channels are pruned, so every residual add stays valid.
/// </para>
/// <para>
/// Groups are pruned front to back. For each one, the original and the pruned-so-far network run on the same
/// calibration batches, on the network's own device (taken from its parameters), and each consumer's input statistics
/// (Σ a′a′ᵀ, Σ a′aᵀ, Σ aaᵀ, in float64 on that device) are accumulated; only these C x C sums go to the layer pruner.
/// Each group's statistics therefore reflect everything pruned before it (propagation). Consumers reading the same
/// tensor through the same window are one request; the others are refitted to the channels it keeps.
/// </para>
/// <para>
/// Widths come from <see cref="NetworkPruningOptions.TargetFlopsReduction"/> (allocated over the groups' FLOPs, under
/// each group's valid capacity when asked, which a first pass over the original network estimates) or from
/// <see cref="NetworkPruningOptions.PerLayerKeepRatios"/> (by the group's source name).
/// </para>
/// <para>
/// Inside, <see cref="Prune"/> is a loop over internal parts with one job each (the calibration input, the group
/// analysis, the width plan, the statistics collection, one group's step, the output check, the latency probe, the
/// report), described in docs/architecture.md ("How the adapter prunes").
/// </para>
/// </remarks>
public sealed class TorchSharpPruner
{
    private readonly ILayerPruner _layerPruner;
    private readonly ILogger _logger;

    /// <summary>
    /// Creates a pruner running <see cref="LdrfLayerPruner"/> with <paramref name="options"/>, its linear algebra on
    /// libtorch on the CPU (MKL-backed, in float64).
    /// </summary>
    /// <param name="options">The LDRF options (defaults when null); copied.</param>
    /// <param name="logger">Receives one line per group and per pruned group; optional.</param>
    /// <exception cref="ArgumentException">An option is invalid (the message names every invalid option).</exception>
    public TorchSharpPruner(LdrfOptions? options = null, ILogger<TorchSharpPruner>? logger = null)
        : this(new LdrfLayerPruner(options ?? new LdrfOptions(), new TorchNumericBackend()), logger)
    {
    }

    /// <summary>Creates a pruner around any layer pruner (for example a baseline).</summary>
    /// <param name="layerPruner">Prunes one layer from its statistics.</param>
    /// <param name="logger">Receives one line per group and per pruned group; optional.</param>
    /// <exception cref="ArgumentNullException"><paramref name="layerPruner"/> is null.</exception>
    public TorchSharpPruner(ILayerPruner layerPruner, ILogger<TorchSharpPruner>? logger = null)
    {
        _layerPruner = layerPruner ?? throw new ArgumentNullException(nameof(layerPruner));
        _logger = logger ?? (ILogger)NullLogger.Instance;
    }

    /// <summary>Prunes <paramref name="network"/> and returns a new, smaller network with a report.</summary>
    /// <param name="network">The network to prune (read only: it is never modified, and its training mode is left alone).</param>
    /// <param name="calibrationBatches">Input batches N x C x H x W (same C, H, W); any device and floating type (they are copied to the network's).</param>
    /// <param name="options">The target and calibration settings.</param>
    /// <param name="progress">Receives progress; optional.</param>
    /// <param name="cancellationToken">Stops the run between calibration batches.</param>
    /// <returns>The pruned network and the report.</returns>
    /// <exception cref="ArgumentNullException">An argument or a calibration batch is null.</exception>
    /// <exception cref="ArgumentException">A network on the meta device, an unsupported module (the message names its path), a calibration batch of the wrong shape, disposed, without data (meta device) or with a NaN or infinity (the message names its index and position), all-zero or no calibration batches, invalid <paramref name="options"/> (no target or two targets, or values out of range: the message names every invalid option), a layer in the ratios that is no prunable group's source (unknown, or kept whole), an unreachable FLOPs target, or a network whose own activations on the calibration images are not finite although its weights and the images are. The exception's ParamName is the argument at fault.</exception>
    /// <exception cref="InvalidOperationException">The pruned-so-far or the pruned network computed NaN or infinity where the original did not (the message says where and what to do; see <see cref="PruningReport.CpuConvolutionDefect"/>), or a layer pruner returned a malformed result.</exception>
    /// <exception cref="OperationCanceledException">Cancelled; the caller's network is untouched.</exception>
    /// <remarks>
    /// Thread safety: <see cref="Prune"/> may be called from several threads at once, on the same or different
    /// networks and with the same or different pruners. It only reads the network and the calibration batches,
    /// keeps all of its state in the call, and changes no process-wide setting of libtorch (the one shared thing,
    /// the CPU convolution probe, runs once per process under a lock). Do not change <paramref name="options"/>,
    /// the network or the batches while a call that uses them runs. A target of exactly 1 prunes nothing and
    /// returns the network as it is, with its batch norms folded.
    /// </remarks>
    public PruningResult Prune(
        nn.Module<Tensor, Tensor> network,
        IEnumerable<Tensor> calibrationBatches,
        NetworkPruningOptions options,
        IProgress<PruningProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(calibrationBatches);
        NetworkPruningOptionsValidator.Instance.ThrowIfInvalid(options, nameof(options));

        var (device, dtype) = NetworkReader.DeviceAndType(network, nameof(network));
        var log = new PruningLog(_logger);
        var batches = CalibrationInput.Take(calibrationBatches, options.MaxCalibrationBatches, dtype, log);
        var defect = device.type == DeviceType.CPU ? CpuConvolutionProbe.Defect : null;
        if (defect is not null)
        {
            log.Defect(defect, options.ChannelMultiple);
        }

        using var split = CalibrationSplit.Create(batches, options.HeldOutImages, nameof(options));
        using var original = GraphModel.FromNetwork(network, nameof(network));
        var imageShape = split.Statistics[0].shape.Skip(1).ToArray();
        var complexityBefore = original.Complexity(imageShape, nameof(calibrationBatches));
        using var folded = original.FoldBatchNorm(nameof(network));
        var prunable = PrunableGraph.Create(folded, folded.Shapes(imageShape, nameof(calibrationBatches)), imageShape, device, dtype, nameof(network), options.PruneResidualStreams);
        log.Groups(prunable.Analysis.Groups);
        using var working = folded.Clone();
        var outcomes = PruneGroups(prunable, working, split.Statistics, options, defect, log, progress, cancellationToken);

        progress?.Report(new PruningProgress(PruningStage.PruningLayer, null, prunable.Groups.Count, prunable.Groups.Count));
        var pruned = working.Build(device, dtype);
        try
        {
            var complexityAfter = working.Complexity(imageShape, nameof(calibrationBatches));
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(new PruningProgress(PruningStage.CheckingOutput, null, 0, 1));
            double heldOutError;
            using (var exact = original.Build(device, dtype, share: true))
            {
                heldOutError = OutputCheck.RelativeError(exact.Network, pruned.Network, split.Check, split.HeldOutCount > 0, device, dtype, defect, cancellationToken);
            }

            log.OutputChecked(heldOutError, split.HeldOutCount);
            LatencyResult? latency = null;
            if (options.MeasureLatency)
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Report(new PruningProgress(PruningStage.MeasuringLatency, null, 0, 2));
                var timed = split.Leading(options.LatencyBatchSize);
                latency = LatencyProbe.Measure(original, pruned, working, timed, dtype, options.LatencyRuns);
                if (latency.Doubt((double)complexityBefore.TotalFlops / complexityAfter.TotalFlops) is { } doubt)
                {
                    log.Warn(doubt);
                }
            }

            var report = ReportBuilder.Build(original, working, prunable.Analysis, complexityBefore, complexityAfter, outcomes, options,
                (int)split.Statistics.Sum(b => b.shape[0]), latency, new OutputCheckResult(split.HeldOutCount, heldOutError, defect), log.Warnings);
            progress?.Report(new PruningProgress(PruningStage.Completed, null, prunable.Groups.Count, prunable.Groups.Count));
            return new PruningResult(pruned.Network, report);
        }
        catch
        {
            // On success the caller owns the pruned network.
            pruned.Dispose();
            throw;
        }
    }

    // Plans the widths and prunes the groups front to back into `working`. The original network (batch norms folded)
    // and the calibration cache live only as long as this loop.
    private Dictionary<string, GroupOutcome> PruneGroups(
        PrunableGraph graph, GraphModel working, List<Tensor> batches, NetworkPruningOptions options, string? defect,
        PruningLog log, IProgress<PruningProgress>? progress, CancellationToken cancellationToken)
    {
        using var original = graph.Folded.Build(graph.Device, graph.Dtype, share: true);
        IReadOnlyList<LayerPruningRequest> OriginalRequests()
        {
            // Every group's statistics on the original network, in one pass from the images.
            using var pass = new GraphStatistics(graph, batches, cacheBytes: 0, defect, original.Executor);
            var statistics = pass.OfOriginal(original.Executor, progress, cancellationToken);
            return [.. graph.Names.Select((name, j) => new LayerPruningRequest(name, graph.ConsumerMatrix(graph.Folded, j, graph.Classes[j][0], graph.OriginalWidth), statistics[j]))];
        }

        WidthPlan plan;
        using (var sensitivity = options.CurveScale == ErrorCurveScale.Layer ? null : new OutputSensitivity(_layerPruner, graph, original, batches, options, defect))
        {
            var subject = new WidthPlanSubject(graph.Names, [.. graph.Groups.Select(g => g.Channels)], OriginalRequests, j => graph.SourceMatrix(graph.Folded, j), graph.ComputeLayers())
            {
                OutputError = sensitivity is null ? null : sensitivity.SquaredError,
                KeptStreams = graph.Analysis.Groups.Count(ChannelGroups.TiedByResidualAdd),
            };
            plan = WidthPlanner.Plan(_layerPruner, subject, options, log, cancellationToken);
        }

        using var collector = new GraphStatistics(graph, batches, options.CalibrationCacheBytes, defect, original.Executor);
        var step = new GroupStep(_layerPruner, graph, collector, options, log);
        var widths = new Dictionary<int, int>();
        var outcomes = new Dictionary<string, GroupOutcome>(StringComparer.Ordinal);

        // A target of 1 prunes nothing: the network comes back as it is (batch norms folded), weights unrefitted.
        var noOp = options.TargetFlopsReduction is 1.0;
        for (var j = 0; j < graph.Groups.Count && !noOp; j++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var name = graph.Names[j];
            progress?.Report(new PruningProgress(PruningStage.PruningLayer, name, j, graph.Groups.Count));
            outcomes[name] = step.Prune(j, original.Executor, working, widths, plan.KeepCounts[name], cancellationToken,
                plan.Reviser is { } reviser ? request => reviser.Revise(request, cancellationToken) : null);
        }

        return outcomes;
    }
}
