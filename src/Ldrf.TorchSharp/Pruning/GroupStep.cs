using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Ldrf.Baselines;
using Ldrf.Decomposition;
using Ldrf.Recomposition;
using Ldrf.Statistics;
using Ldrf.TorchSharp.Architecture;
using Ldrf.TorchSharp.Numerics;
using MathNet.Numerics.LinearAlgebra;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// Prunes one channel-dependency group of the pruned-so-far graph: calibrates its consumers' inputs against the
/// original, asks the layer pruner for the channels to keep and the new weights of the consumers it selects on, refits
/// the other consumers to the same channels, checks the answer and applies it to the graph.
/// </summary>
/// <remarks>
/// Several consumers (docs/method.md, "Groups with several consumers"): consumers that read the same tensor through the
/// same window share the statistics, so their weights stack side by side into one request and one selection serves
/// them jointly. When the consumers read different tensors (one after a pooling, one through a concat), the selection is
/// made on the class whose response has the most terms (weights times output positions), and every other class is refitted to the kept channels by ridge least
/// squares on its own statistics (or, for a layer pruner that does not reconstruct, keeps its weights of the kept channels).
/// </remarks>
internal sealed class GroupStep(ILayerPruner layerPruner, PrunableGraph graph, GraphStatistics collector, NetworkPruningOptions options, PruningLog log)
{
    private readonly long _images = collector.Images;
    private readonly RidgeRecomposer _refit = new(new TorchNumericBackend());

    /// <summary>
    /// Prunes group <paramref name="j"/> of <paramref name="working"/> (the widths of the channel spaces pruned so far
    /// in <paramref name="widths"/>, updated here; the others have their original widths) to <paramref name="keep"/> channels, or to the width
    /// <paramref name="revise"/> gives from the group's statistics on the pruned-so-far network.
    /// </summary>
    /// <returns>What the report keeps of the layer pruner's result, and the time the calibration took.</returns>
    /// <exception cref="InvalidOperationException">Activations are not finite, or the layer pruner returned a malformed result.</exception>
    public GroupOutcome Prune(
        int j, GraphExecutor original, GraphModel working, Dictionary<int, int> widths,
        int keep, CancellationToken cancellationToken, Func<LayerPruningRequest, int>? revise = null)
    {
        var (outcome, huge) = PruneAndApply(j, original, working, widths, keep, cancellationToken, revise);
        if (huge)
        {
            // A huge group's core leaves gigabytes of float64 matrices behind (VGG-16's features.28: its consumer's
            // weights alone are 0.8 GB), which the GC would otherwise return only when its budget next runs out, in the
            // middle of the next group. Collected now, once the frame that held them is gone, and decommitted (a plain
            // collection keeps the freed memory resident for reuse), the next group starts from the memory before this one.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }

        return outcome;
    }

    // Not inlined: nothing it held may still be reachable from the frame when Prune collects.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private (GroupOutcome Outcome, bool Huge) PruneAndApply(
        int j, GraphExecutor original, GraphModel working, Dictionary<int, int> widths,
        int keep, CancellationToken cancellationToken, Func<LayerPruningRequest, int>? revise)
    {
        var group = graph.Groups[j];
        var name = graph.Names[j];
        var classes = options.StackConsumers ? graph.Classes[j]
            : [.. graph.Classes[j].SelectMany(c => c.Reads).Select(r => new ConsumerClass([r]))];
        var lead = classes[0].Lead;
        var channels = group.Channels;
        int Width(int space) => widths.TryGetValue(space, out var w) ? w : graph.OriginalWidth(space);
        ChannelStatistics[] statistics;
        ChannelStatistics? patchStatistics;
        TimeSpan calibrationTime;
        using (var pruned = working.Build(graph.Device, graph.Dtype, share: true))
        {
            var consumer = graph.Folded[lead.Consumer].Op;
            var patchSamples = PatchSampler.SampleCount(lead.Locations, consumer, _images, options.PatchSamplesPerImage);
            using var patches = layerPruner.UsesPatchStatistics
                && layerPruner.UsesPatchStatisticsFor(channels, channels * lead.Group, patchSamples, keep)
                ? new PatchSampler(channels * lead.Group, consumer, options.PatchSamplesPerImage, options.Seed + j, graph.Device)
                : null;
            var calibration = Stopwatch.StartNew();
            (statistics, patchStatistics) = collector.OfGroup(original, pruned.Executor, j, classes, Width, patches, cancellationToken);
            calibrationTime = calibration.Elapsed;
        }

        if (statistics[0].SampleCount < channels)
        {
            // Fewer samples than channels leave the Grams rank-deficient: the solve then rests on its ridge term.
            var perImage = Math.Max(1, statistics[0].SampleCount / _images);
            log.Warn(string.Create(CultureInfo.InvariantCulture,
                $"Layer '{name}': {statistics[0].SampleCount} calibration samples ({_images} images x {perImage} positions) for {channels} channels, so its statistics cannot tell every channel apart; pass at least {(channels + perImage - 1) / perImage} calibration images."));
        }

        var consumerWeights = graph.ConsumerMatrix(working, j, classes[0], Width);
        if (revise is not null)
        {
            // The patch statistics were taken for the planned width; they hold every channel, so any width can use them.
            keep = revise(new LayerPruningRequest(name, consumerWeights, statistics[0]));
        }

        var request = new LayerPruningRequest(name, consumerWeights, statistics[0])
        {
            KeepCount = keep,
            ProducerWeights = layerPruner.UsesProducerWeights ? graph.SourceMatrix(working, j) : null,
            PatchStatistics = patchStatistics,
        };
        var result = layerPruner.Prune(request, cancellationToken);
        Check(result, request, channels);
        var answers = new Dictionary<ConsumerRead, (Matrix<double>, Vector<double>?)>();
        Split(working, classes[0], result.ConsumerWeights, result.BiasCorrection, answers);
        for (var c = 1; c < classes.Count; c++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var (weights, bias) = Refit(graph.ConsumerMatrix(working, j, classes[c], Width), statistics[c], result.KeptChannels, name);
            Split(working, classes[c], weights, bias, answers);
        }

        GroupWeights.Apply(working, graph.Analysis, group, result.KeptChannels, Width, answers);
        foreach (var space in group.Spaces)
        {
            widths[space] = result.KeptChannels.Length;
        }

        log.LayerPruned(result, channels);
        // A consumer this large (128 MB in float64, the size the core keeps factored when it is wide) makes the core allocate gigabytes.
        return (GroupOutcome.Of(result, calibrationTime), (long)consumerWeights.RowCount * consumerWeights.ColumnCount >= EmbeddingReader.FactoredElements);
    }

    // The consumers of one class stand side by side in its matrix: each takes its own columns (out · Group, its outputs
    // as they are now: a gate producer's were pruned with the gated group) and bias terms.
    private static void Split(GraphModel working, ConsumerClass consumers, Matrix<double> weights, Vector<double>? bias, Dictionary<ConsumerRead, (Matrix<double>, Vector<double>?)> answers)
    {
        var column = 0;
        foreach (var read in consumers.Reads)
        {
            var width = PrunableGraph.Outputs(working[read.Consumer].Op) * read.Group;
            // A consumer that takes all of the columns takes the matrix itself (VGG-16's classifier: 208 x 200,704).
            answers[read] = width == weights.ColumnCount ? (weights, bias) : (weights.SubMatrix(0, weights.RowCount, column, width), bias?.SubVector(column, width));
            column += width;
        }
    }

    // A consumer the selection was not made on keeps the kept channels' weights refitted by ridge least squares on its
    // own statistics, M′ = (G + λI)⁻¹ H M, as the least-squares baselines do; without reconstruction it keeps them as they are.
    private (Matrix<double> Weights, Vector<double>? Bias) Refit(Matrix<double> weights, ChannelStatistics statistics, int[] kept, string name)
    {
        if (layerPruner is NoReconstructionLayerPruner)
        {
            return (Matrix<double>.Build.DenseOfRowVectors(kept.Select(weights.Row)), null);
        }

        var recomposition = _refit.Recompose(Embedding.Identity(weights, sparse: false), weights, statistics, null, kept, name);
        return (recomposition.ConsumerWeights, recomposition.BiasCorrection);
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
}
