using System.Diagnostics;
using System.Globalization;
using Ldrf.Statistics;
using Ldrf.TorchSharp.Architecture;

namespace Ldrf.TorchSharp.Pruning;

/// <summary>
/// Prunes one unit of the pruned-so-far chain: calibrates it against the original, asks the layer pruner for the
/// channels to keep and the consumer's new weights, checks the answer and applies it to the chain.
/// </summary>
internal sealed class LayerStep(ILayerPruner layerPruner, PrunableNetwork network, StatisticsCollector collector, NetworkPruningOptions options, PruningLog log)
{
    private readonly long _images = collector.Images;

    /// <summary>
    /// Prunes unit <paramref name="j"/> of <paramref name="working"/> to <paramref name="keep"/> channels, or to the
    /// width <paramref name="revise"/> gives from the layer's statistics on the pruned-so-far network.
    /// </summary>
    /// <returns>The layer pruner's result and the time the calibration took.</returns>
    /// <exception cref="InvalidOperationException">Activations are not finite, or the layer pruner returned a malformed result.</exception>
    public (LayerPruningResult Result, TimeSpan CalibrationTime) Prune(
        int j, BuiltNetwork original, ChainModel working, int keep, CancellationToken cancellationToken, Func<LayerPruningRequest, int>? revise = null)
    {
        var unit = network.Units[j];
        var name = network.Names[j];
        ChannelStatistics statistics;
        ChannelStatistics? patchStatistics;
        TimeSpan calibrationTime;
        using (var prunedNet = working.Build(network.Device, network.Dtype))
        {
            var consumer = unit.ConsumerSpec(network.Folded.Layers);
            var patchSamples = PatchSampler.SampleCount(unit.Locations, consumer, _images, options.PatchSamplesPerImage);
            using var patches = layerPruner.UsesPatchStatistics
                && layerPruner.UsesPatchStatisticsFor(unit.Channels, unit.Channels * unit.Group, patchSamples, keep)
                ? new PatchSampler(unit.Channels * unit.Group, consumer, options.PatchSamplesPerImage, options.Seed + j, network.Device)
                : null;
            var calibration = Stopwatch.StartNew();
            (statistics, patchStatistics) = collector.OfLayer(original, prunedNet, j, patches, cancellationToken);
            calibrationTime = calibration.Elapsed;
        }

        if (statistics.SampleCount < unit.Channels)
        {
            // Fewer samples than channels leave the Grams rank-deficient: the solve then rests on its ridge term.
            var perImage = Math.Max(1, statistics.SampleCount / _images);
            log.Warn(string.Create(CultureInfo.InvariantCulture,
                $"Layer '{name}': {statistics.SampleCount} calibration samples ({_images} images x {perImage} positions) for {unit.Channels} channels, so its statistics cannot tell every channel apart; pass at least {(unit.Channels + perImage - 1) / perImage} calibration images."));
        }

        var consumerWeights = network.ConsumerMatrix(working, j);
        if (revise is not null)
        {
            // The patch statistics were taken for the planned width; they hold every channel, so any width can use them.
            keep = revise(new LayerPruningRequest(name, consumerWeights, statistics));
        }

        var request = new LayerPruningRequest(name, consumerWeights, statistics)
        {
            KeepCount = keep,
            ProducerWeights = UnitWeights.ProducerMatrix(working.State[name + ".weight"]),
            PatchStatistics = patchStatistics,
        };
        var result = layerPruner.Prune(request, cancellationToken);
        Check(result, request, unit.Channels);
        unit.Apply(working, result.KeptChannels, result.ConsumerWeights, result.BiasCorrection);
        log.LayerPruned(result, unit.Channels);
        return (result, calibrationTime);
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
