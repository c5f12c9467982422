using System.Diagnostics;
using System.Globalization;
using Ldrf.Allocation;
using Ldrf.Statistics;
using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Complexity;
using Ldrf.TorchSharp.Modules;
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
/// The network is a Sequential (nested Sequentials allowed) of Conv2d, BatchNorm2d, ReLU, MaxPool2d,
/// AvgPool2d, AdaptiveAvgPool2d, Dropout, Flatten, Linear and <see cref="Modules.ResidualBlock"/>, evaluated
/// as a chain. Batch norms are folded into the convolution before them. Every Conv2d or Linear whose outputs
/// feed another Conv2d or Linear is prunable; the first layer's inputs and the last layer's outputs keep their
/// size. A Linear after Flatten is a consumer whose input features come in spatial groups, one group per channel.
/// </para>
/// <para>
/// In a residual block only the main branch's inner channels are pruned (the outputs of every Conv2d but the
/// last: conv1 of a basic block, conv1 and conv2 of a bottleneck). Block outputs, shortcuts and downsample
/// paths keep their widths, so every residual add stays valid; a layer that feeds a block or is fed by one is
/// not pruned.
/// </para>
/// <para>
/// Layers are pruned front to back. For each one, the original and the pruned-so-far network run on the same
/// calibration batches, on the network's own device (taken from its parameters), and the consumer's input
/// statistics (Σ a′a′ᵀ, Σ a′aᵀ, Σ aaᵀ, in float64 on that device) are accumulated; only these C x C sums go
/// to the layer pruner. Each layer's statistics therefore reflect everything pruned before it (propagation).
/// </para>
/// <para>
/// Widths come from <see cref="NetworkPruningOptions.TargetFlopsReduction"/> (allocated by
/// <see cref="WidthAllocator"/> under each layer's valid capacity, which a first pass over the original
/// network estimates) or from <see cref="NetworkPruningOptions.PerLayerKeepRatios"/>.
/// </para>
/// </remarks>
public sealed class TorchSharpPruner
{
    private readonly ILayerPruner _layerPruner;
    private readonly ILogger _logger;

    /// <summary>Creates a pruner running <see cref="LdrfLayerPruner"/> with <paramref name="options"/> on a CPU <see cref="TorchNumericBackend"/>.</summary>
    /// <param name="options">The LDRF options (defaults when null); copied.</param>
    /// <param name="logger">Receives one line per pruned layer; optional.</param>
    /// <exception cref="ArgumentException">An option is invalid (the message names every invalid option).</exception>
    public TorchSharpPruner(LdrfOptions? options = null, ILogger<TorchSharpPruner>? logger = null)
        : this(new LdrfLayerPruner(options ?? new LdrfOptions(), new TorchNumericBackend()), logger)
    {
    }

    /// <summary>Creates a pruner around any layer pruner (for example a baseline).</summary>
    /// <param name="layerPruner">Prunes one layer from its statistics.</param>
    /// <param name="logger">Receives one line per pruned layer; optional.</param>
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
    /// <exception cref="ArgumentException">A network on the meta device, an unsupported module (the message names its path), a calibration batch of the wrong shape, disposed, without data (meta device) or with a NaN or infinity (the message names its index and position), all-zero or no calibration batches, invalid <paramref name="options"/> (no target or two targets, or values out of range: the message names every invalid option), an unknown layer in the ratios, or an unreachable FLOPs target. The exception's ParamName is the argument at fault.</exception>
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

        var allBatches = TakeBatches(calibrationBatches, options.MaxCalibrationBatches);
        var warnings = new List<string>();
        foreach (var type in allBatches.Select(b => b.dtype).Distinct().Where(t => t != dtype))
        {
            Warn(warnings, $"Calibration batches of type {type} are converted to the network's {dtype}; pass {dtype} batches to calibrate on exactly what the network sees.");
        }

        var defect = device.type == DeviceType.CPU ? CpuConvolutionProbe.Defect : null;
        if (defect is not null)
        {
            _logger.Log(options.ChannelMultiple % 16 == 0 ? LogLevel.Information : LogLevel.Warning, "Ldrf: {Defect}", defect);
        }

        var disposables = new List<IDisposable>();
        try
        {
            var split = Own(disposables, CalibrationSplit.Create(allBatches, options.HeldOutImages, nameof(options)));
            var batches = split.Statistics;
            var original = Own(disposables, ChainModel.FromNetwork(network, nameof(network)));
            var imageShape = batches[0].shape.Skip(1).ToArray();
            var complexityBefore = original.Complexity(imageShape, nameof(calibrationBatches));
            var folded = Own(disposables, original.FoldBatchNorm(nameof(network)));
            var shapes = ShapeInference.Outputs(folded.Layers, imageShape, nameof(calibrationBatches));
            var units = PrunableUnit.Find(folded.Layers, shapes, imageShape);
            if (units.Count == 0)
            {
                throw new ArgumentException(
                    $"'{nameof(network)}' has fewer than two Conv2d/Linear layers, so it has no prunable layer (the first layer's inputs and the last layer's outputs keep their size).",
                    nameof(network));
            }

            var originalNet = folded.Build(device, dtype);
            disposables.Add(originalNet.Root);
            var keep = KeepCounts(folded, units, shapes, imageShape, originalNet, batches, options, device, dtype, progress, cancellationToken);

            var working = Own(disposables, folded.Clone());
            var images = batches.Sum(b => b.shape[0]);
            var cache = Own(disposables, new CalibrationCache(batches, options.CalibrationCacheBytes,
                position => CacheBytes(ShapeInference.Input(shapes, position, imageShape), images, dtype), device, dtype));
            var results = new Dictionary<string, LayerPruningResult>(StringComparer.Ordinal);
            var calibrationTimes = new Dictionary<string, TimeSpan>(StringComparer.Ordinal);
            // A target of 1 prunes nothing: the network comes back as it is (batch norms folded), weights unrefitted.
            var noOp = options.TargetFlopsReduction is 1.0;
            for (var j = 0; j < units.Count && !noOp; j++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var unit = units[j];
                var name = unit.ProducerSpec(folded.Layers).Path;
                progress?.Report(new PruningProgress(PruningStage.PruningLayer, name, j, units.Count));
                var prunedNet = working.Build(device, dtype);
                var consumer = unit.ConsumerSpec(folded.Layers);
                var patchSamples = PatchSampler.SampleCount(unit, consumer, images, options.PatchSamplesPerImage);
                using var patches = _layerPruner.UsesPatchStatistics
                    && _layerPruner.UsesPatchStatisticsFor(unit.Channels, unit.Channels * unit.Group, patchSamples, keep[name])
                    ? new PatchSampler(unit, consumer, options.PatchSamplesPerImage, options.Seed + j, device)
                    : null;
                ChannelStatistics statistics;
                var calibration = Stopwatch.StartNew();
                try
                {
                    // From the cached inputs of the unit's first layer where they fit the limit, else from where the cache is.
                    cache.TryMoveTo(unit.Block ?? unit.Producer, originalNet, prunedNet, cancellationToken);
                    statistics = Accumulate(originalNet, prunedNet, [unit], cache, device, null, cancellationToken, patches, name, defect)[0];
                }
                finally
                {
                    prunedNet.Root.Dispose();
                }

                calibrationTimes[name] = calibration.Elapsed;
                if (statistics.SampleCount < unit.Channels)
                {
                    // Fewer samples than channels leave the Grams rank-deficient: the solve then rests on its ridge term.
                    var perImage = Math.Max(1, statistics.SampleCount / images);
                    Warn(warnings, string.Create(CultureInfo.InvariantCulture,
                        $"Layer '{name}': {statistics.SampleCount} calibration samples ({images} images x {perImage} positions) for {unit.Channels} channels, so its statistics cannot tell every channel apart; pass at least {(unit.Channels + perImage - 1) / perImage} calibration images."));
                }

                var request = new LayerPruningRequest(name,
                    PrunableUnit.ConsumerMatrix(working.State[unit.ConsumerSpec(folded.Layers).Path + ".weight"], unit.Channels),
                    statistics)
                {
                    KeepCount = keep[name],
                    ProducerWeights = PrunableUnit.ProducerMatrix(working.State[name + ".weight"]),
                    PatchStatistics = patches?.ToChannelStatistics(),
                };
                var result = _layerPruner.Prune(request, cancellationToken);
                Check(result, request, unit.Channels);
                unit.Apply(working, result.KeptChannels, result.ConsumerWeights, result.BiasCorrection);
                results[name] = result;
                Log(result, unit.Channels);
            }

            progress?.Report(new PruningProgress(PruningStage.PruningLayer, null, units.Count, units.Count));
            var pruned = working.Build(device, dtype);
            try
            {
                var complexityAfter = working.Complexity(imageShape, nameof(calibrationBatches));
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Report(new PruningProgress(PruningStage.CheckingOutput, null, 0, 1));
                originalNet.Root.Dispose(); // the check runs an exact copy of the original instead
                double heldOutError;
                using (var exact = NetworkBuilder.Build(original.Layers, original.State, device, dtype).Root)
                {
                    heldOutError = OutputCheck.RelativeError(exact, pruned.Root, split.Check, split.HeldOutCount > 0, device, dtype, defect, cancellationToken);
                }

                _logger.LogInformation("Ldrf output check: relative error {Error:0.0000} against the original on {Images} held-out calibration images", heldOutError, split.HeldOutCount);
                TimeSpan? latencyBefore = null, latencyAfter = null;
                var latencyImages = 0;
                if (options.MeasureLatency)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    progress?.Report(new PruningProgress(PruningStage.MeasuringLatency, null, 0, 2));
                    var timed = split.Leading(options.LatencyBatchSize);
                    latencyImages = (int)timed.Sum(i => i.shape[0]);
                    (latencyBefore, latencyAfter) = MeasureLatency(original, pruned, working, timed, dtype, options.LatencyRuns);
                }

                var report = Report(original, working, complexityBefore, complexityAfter, results, calibrationTimes, options, batches, latencyBefore, latencyAfter, latencyImages,
                    new OutputCheckResult(split.HeldOutCount, heldOutError, defect), warnings);
                progress?.Report(new PruningProgress(PruningStage.Completed, null, units.Count, units.Count));
                return new PruningResult(pruned.Root, report);
            }
            catch
            {
                pruned.Root.Dispose();
                throw;
            }
        }
        finally
        {
            foreach (var d in disposables)
            {
                d.Dispose();
            }
        }
    }

    private void Warn(List<string> warnings, string warning)
    {
        warnings.Add(warning);
        _logger.LogWarning("Ldrf: {Warning}", warning);
    }

    private static T Own<T>(List<IDisposable> disposables, T value)
        where T : IDisposable
    {
        disposables.Add(value);
        return value;
    }

    private static List<Tensor> TakeBatches(IEnumerable<Tensor> calibrationBatches, int? max)
    {
        var batches = new List<Tensor>();
        foreach (var batch in calibrationBatches)
        {
            if (max is int m && batches.Count >= m)
            {
                break;
            }

            var i = batches.Count;
            if (batch is null)
            {
                throw new ArgumentNullException(nameof(calibrationBatches), $"'{nameof(calibrationBatches)}'[{i}] is null.");
            }

            ImageTensors.Check(batch, $"'{nameof(calibrationBatches)}'[{i}]", nameof(calibrationBatches));

            if (i > 0 && !batch.shape.Skip(1).SequenceEqual(batches[0].shape.Skip(1)))
            {
                throw new ArgumentException(
                    $"'{nameof(calibrationBatches)}'[{i}] is {NetworkReader.Shape(batch.shape)} but batch 0 is {NetworkReader.Shape(batches[0].shape)}; every batch must have the same C x H x W.",
                    nameof(calibrationBatches));
            }

            batches.Add(batch);
        }

        if (batches.Count == 0)
        {
            throw new ArgumentException($"'{nameof(calibrationBatches)}' is empty; pruning needs at least one calibration batch.", nameof(calibrationBatches));
        }

        if (batches.All(IsAllZero))
        {
            // Every activation would be a constant (the biases): nothing to select or reconstruct with.
            throw new ArgumentException(
                $"'{nameof(calibrationBatches)}' are all zero ({batches.Count} batch(es)); calibration needs real input images.", nameof(calibrationBatches));
        }

        return batches;
    }

    private static bool IsAllZero(Tensor batch)
    {
        using var scope = NewDisposeScope();
        return batch.count_nonzero().item<long>() == 0;
    }

    private IReadOnlyDictionary<string, int> KeepCounts(
        ChainModel folded, List<PrunableUnit> units, long[][] shapes, long[] imageShape, BuiltNetwork originalNet, List<Tensor> batches,
        NetworkPruningOptions options, Device device, ScalarType dtype, IProgress<PruningProgress>? progress, CancellationToken cancellationToken)
    {
        var names = units.Select(u => u.ProducerSpec(folded.Layers).Path).ToList();
        var capacities = units.Select(_ => 1).ToArray();
        if (options.TargetFlopsReduction is not null && options.UseCapacityBounds)
        {

            // Valid capacity r from the original network: its statistics with nothing pruned yet.
            using var inputs = new CalibrationCache(batches, 0, _ => 0, device, dtype);
            var statistics = Accumulate(originalNet, null, units, inputs, device, progress, cancellationToken);
            for (var j = 0; j < units.Count; j++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var request = new LayerPruningRequest(names[j],
                    PrunableUnit.ConsumerMatrix(folded.State[units[j].ConsumerSpec(folded.Layers).Path + ".weight"], units[j].Channels),
                    statistics[j]);
                try
                {
                    capacities[j] = Math.Clamp(_layerPruner.Prune(request, cancellationToken).ValidCapacity, 1, units[j].Channels);
                }
                catch (ArgumentException e) when (_layerPruner.UsesPatchStatistics && request.PatchStatistics is null)
                {
                    // The capacity pass reads the channel statistics only; a pruner that needs patches has no estimate there.
                    throw new ArgumentException(
                        $"'{nameof(options)}.{nameof(options.UseCapacityBounds)}' is true, but the layer pruner {_layerPruner.GetType().Name} could not estimate the valid capacity of '{names[j]}' from channel statistics; set it to false to allocate widths without capacity bounds.",
                        nameof(options), e);
                }
            }
        }

        var prunable = units.Select((u, j) => new PrunableLayer(names[j], u.Channels, capacities[j]));
        var allocator = new WidthAllocator(prunable, ComputeLayers(folded.Layers, shapes, imageShape, units, names), channelMultiple: options.ChannelMultiple);
        var allocation = options.TargetFlopsReduction is double target
            ? allocator.Allocate(target, nameof(options), $"{nameof(options)}.{nameof(options.TargetFlopsReduction)}",
                $"set '{nameof(options)}.{nameof(options.UseCapacityBounds)}' to false (it keeps every layer at or above its valid capacity)")
            : allocator.FromRatios(options.PerLayerKeepRatios!, nameof(options), $"{nameof(options)}.{nameof(options.PerLayerKeepRatios)}");
        _logger.LogInformation("Ldrf widths: {Widths} ({Reduction:0.00}x fewer FLOPs)",
            string.Join(", ", names.Select(n => n + "=" + allocation.KeepCounts[n].ToString(CultureInfo.InvariantCulture))), allocation.Reduction);
        return allocation.KeepCounts;
    }

    // FLOPs = Σ cost · in′ · out′ over every Conv2d and Linear (MACs, residual blocks included), with the widths
    // that pruning changes linked to their prunable layers.
    private static List<ComputeLayer> ComputeLayers(List<LayerSpec> layers, long[][] shapes, long[] imageShape, List<PrunableUnit> units, List<string> names)
    {
        var producer = new Dictionary<string, string>(StringComparer.Ordinal);
        var consumer = new Dictionary<string, (string Name, PrunableUnit Unit)>(StringComparer.Ordinal);
        for (var j = 0; j < units.Count; j++)
        {
            producer[units[j].ProducerSpec(layers).Path] = names[j];
            consumer[units[j].ConsumerSpec(layers).Path] = (names[j], units[j]);
        }

        var result = new List<ComputeLayer>();
        void Add(IReadOnlyList<LayerSpec> chain, long[][] outputs, long[] input)
        {
            for (var i = 0; i < chain.Count; i++)
            {
                var output = producer.GetValueOrDefault(chain[i].Path);
                var linked = consumer.TryGetValue(chain[i].Path, out var c) ? c : ((string Name, PrunableUnit Unit)?)null;
                switch (chain[i])
                {
                    case ResidualBlockSpec block:
                        var blockInput = ShapeInference.Input(outputs, i, input);
                        Add(block.Main, ShapeInference.Outputs(block.Main, blockInput, "network"), blockInput);
                        Add(block.Shortcut, ShapeInference.Outputs(block.Shortcut, blockInput, "network"), blockInput);
                        break;
                    case Conv2dSpec conv:
                        result.Add(new ComputeLayer(conv.Path, (double)conv.Kernel[0] * conv.Kernel[1] * outputs[i][1] * outputs[i][2],
                            linked?.Name, conv.InChannels, output, conv.OutChannels));
                        break;
                    case LinearSpec linear:
                        result.Add(linked is { } l
                            ? new ComputeLayer(linear.Path, l.Unit.Group, l.Name, l.Unit.Channels, output, linear.OutFeatures)
                            : new ComputeLayer(linear.Path, 1, null, linear.InFeatures, output, linear.OutFeatures));
                        break;
                }
            }
        }

        Add(layers, shapes, imageShape);
        return result;
    }

    /// <summary>
    /// Runs the original (and the pruned, if given) network over the batches, from the inputs held by
    /// <paramref name="inputs"/>, and accumulates each unit's statistics.
    /// </summary>
    private static ChannelStatistics[] Accumulate(
        BuiltNetwork original, BuiltNetwork? pruned, IReadOnlyList<PrunableUnit> units, CalibrationCache inputs,
        Device device, IProgress<PruningProgress>? progress, CancellationToken cancellationToken,
        PatchSampler? patches = null, string? layer = null, string? defect = null)
    {
        var accumulators = units.Select(u => new ActivationStatistics(u.Channels, device)).ToArray();
        try
        {
            for (var b = 0; b < inputs.BatchCount; b++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                using var noGrad = no_grad();
                var (x0, x1) = inputs.Inputs(b);
                var a0 = Run(original, x0, units, inputs.Position);
                var a1 = pruned is null ? a0 : Run(pruned, x1, units, inputs.Position);
                for (var j = 0; j < units.Count; j++)
                {
                    accumulators[j].Add(a1[j], a0[j]);
                }

                patches?.Add(a1[0], a0[0]);

                progress?.Report(new PruningProgress(PruningStage.MeasuringCapacity, null, b + 1, inputs.BatchCount));
            }

            if (!accumulators.All(a => a.OriginalIsFinite))
            {
                // The caller's network itself overflows on these images (finite weights and images, non-finite
                // activations): no pruning can work from them, and the fault is the argument's, not the pruner's.
                throw new ArgumentException(
                    $"The network's own activations{(layer is null ? "" : $" at the output of '{layer}'")} on the calibration images are not finite (NaN or overflow to infinity), although its weights and the images are finite; check the weights' and the images' scale.",
                    "network");
            }

            if (pruned is not null && accumulators.Any(a => !a.IsFinite))
            {
                // The pruned-so-far network computed NaN or infinity where the original did not.
                throw new InvalidOperationException(
                    $"While pruning '{layer}': the pruned-so-far network's activations on the calibration images are not finite although the original's are. {defect ?? "The one-time probe found no libtorch convolution defect on this device."} If NetworkPruningOptions.ChannelMultiple is below 16, set it back to 16; otherwise report this with the network's layer widths. The caller's network is unchanged.");
            }

            return accumulators.Select(a => a.ToChannelStatistics(null)).ToArray();
        }
        finally
        {
            foreach (var a in accumulators)
            {
                a.Dispose();
            }
        }
    }

    // Runs the network from the input x of top-level layer `from` just far enough to capture every unit's consumer
    // input: the output of a top-level layer, or, for a unit inside a residual block, of a layer of its main branch.
    private static Tensor[] Run(BuiltNetwork network, Tensor x, IReadOnlyList<PrunableUnit> units, int from)
    {
        var captured = new Tensor[units.Count];
        var last = units.Max(u => u.Block ?? u.Capture);
        for (var i = from; i <= last; i++)
        {
            var layer = network.Leaves[i];
            if (layer is ResidualBlock block && units.Any(u => u.Block == i))
            {
                var y = x;
                var lastInner = units.Where(u => u.Block == i).Max(u => u.Capture);
                for (var k = 0; k <= lastInner; k++)
                {
                    y = block.MainBranch[k].Module.forward(y);
                    Capture(captured, units, i, k, y);
                }
            }

            if (i < last || units.Any(u => u.Block is null && u.Capture == i))
            {
                x = layer.forward(x);
                Capture(captured, units, null, i, x);
            }
        }

        return captured;
    }

    // Both networks' activations of shape `shape` per image, for every calibration image (the pruned network's are no wider).
    private static long CacheBytes(long[] shape, long images, ScalarType dtype) =>
        2 * images * shape.Aggregate(1L, (a, b) => a * b) * (dtype switch
        {
            ScalarType.Float16 or ScalarType.BFloat16 => 2,
            ScalarType.Float32 => 4,
            _ => 8,
        });

    private static void Capture(Tensor[] captured, IReadOnlyList<PrunableUnit> units, int? block, int index, Tensor value)
    {
        for (var j = 0; j < units.Count; j++)
        {
            if (units[j].Block == block && units[j].Capture == index)
            {
                captured[j] = value;
            }
        }
    }

    private static void Check(LayerPruningResult result, LayerPruningRequest request, int channels)
    {
        var kept = result.KeptChannels;
        var ok = kept is not null && kept.Length == request.KeepCount && kept.All(k => k >= 0 && k < channels) && kept.Distinct().Count() == kept.Length
            && result.ConsumerWeights.RowCount == kept.Length && result.ConsumerWeights.ColumnCount == request.ConsumerWeights.ColumnCount
            && (result.BiasCorrection is null || result.BiasCorrection.Count == request.ConsumerWeights.ColumnCount);
        if (!ok)
        {
            throw new InvalidOperationException(
                $"Layer '{request.LayerName}': the layer pruner returned {kept?.Length.ToString(CultureInfo.InvariantCulture) ?? "no"} kept channels and consumer weights of {result.ConsumerWeights.RowCount} x {result.ConsumerWeights.ColumnCount}, but {request.KeepCount} distinct channels of {channels} and {request.KeepCount} x {request.ConsumerWeights.ColumnCount} weights were requested.");
        }
    }

    private void Log(LayerPruningResult result, int channels) =>
        _logger.LogInformation("Ldrf pruned {Layer}: {Before} -> {After} channels, r = {Capacity}, embedding error {EmbeddingError:0.0000}, output error {OutputError:0.0000}",
            result.LayerName, channels, result.KeptChannels.Length, result.ValidCapacity, result.RelativeEmbeddingError, result.RelativeOutputError);

    private static (TimeSpan Before, TimeSpan After) MeasureLatency(ChainModel original, BuiltNetwork pruned, ChainModel working, List<Tensor> images, ScalarType dtype, int runs)
    {
        // Both on the CPU, same images; the original is an exact evaluation-mode copy (batch norms included).
        using var originalCpu = NetworkBuilder.Build(original.Layers, original.State, CPU, dtype).Root;
        var prunedCpu = pruned.Root.parameters().First().device.type == DeviceType.CPU ? null : working.Build(CPU, dtype).Root;
        try
        {
            using var scope = NewDisposeScope();
            var x = cat(images.Select(i => i.to(dtype, CPU)).ToList(), 0);
            return Medians(originalCpu, prunedCpu ?? pruned.Root, x, runs);
        }
        finally
        {
            prunedCpu?.Dispose();
        }
    }

    // The two networks' passes alternate (in alternating order), so that other work on a shared machine slows
    // both alike instead of whichever happened to run during it; medians after 2 warm-up rounds.
    private static (TimeSpan First, TimeSpan Second) Medians(nn.Module<Tensor, Tensor> first, nn.Module<Tensor, Tensor> second, Tensor x, int runs)
    {
        using var noGrad = no_grad();
        var times = (First: new List<TimeSpan>(runs), Second: new List<TimeSpan>(runs));
        TimeSpan Time(nn.Module<Tensor, Tensor> network)
        {
            using var scope = NewDisposeScope();
            var watch = Stopwatch.StartNew();
            network.forward(x);
            return watch.Elapsed;
        }

        for (var i = 0; i < runs + 2; i++)
        {
            TimeSpan a, b;
            if (i % 2 == 0)
            {
                a = Time(first);
                b = Time(second);
            }
            else
            {
                b = Time(second);
                a = Time(first);
            }

            if (i >= 2)
            {
                times.First.Add(a);
                times.Second.Add(b);
            }
        }

        times.First.Sort();
        times.Second.Sort();
        return (times.First[runs / 2], times.Second[runs / 2]);
    }

    private static int Channels(LayerSpec producer) => producer switch
    {
        Conv2dSpec c => c.OutChannels,
        LinearSpec l => l.OutFeatures,
        _ => throw new InvalidOperationException(),
    };

    private static PruningReport Report(
        ChainModel original, ChainModel pruned, ComplexityReport before, ComplexityReport after,
        Dictionary<string, LayerPruningResult> results, Dictionary<string, TimeSpan> calibrationTimes, NetworkPruningOptions options, List<Tensor> batches,
        TimeSpan? latencyBefore, TimeSpan? latencyAfter, int latencyImages, OutputCheckResult check, IReadOnlyList<string> warnings)
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
                LayerPruningTimes = result?.Times,
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
            CalibrationImages = (int)batches.Sum(b => b.shape[0]),
            LatencyBefore = latencyBefore,
            LatencyAfter = latencyAfter,
            LatencyBatchSize = latencyBefore is null ? 0 : latencyImages,
            HeldOutImages = check.HeldOutImages,
            HeldOutOutputError = check.RelativeError,
            CpuConvolutionDefect = check.Defect,
            Warnings = warnings,
        };
    }

    private sealed record OutputCheckResult(int HeldOutImages, double RelativeError, string? Defect);
}
