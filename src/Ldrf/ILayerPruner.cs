namespace Ldrf;

/// <summary>
/// Prunes the channels of one layer and rebuilds its consumer. LDRF is one implementation
/// (<see cref="LdrfLayerPruner"/>); the comparison baselines (<see cref="Baselines.BaselinePruners"/>) are others.
/// Implement it to plug another method into the adapter's front-to-back loop.
/// </summary>
public interface ILayerPruner
{
    /// <summary>Prunes one layer.</summary>
    /// <param name="request">The layer's weights, statistics and target width.</param>
    /// <param name="cancellationToken">Cancels between steps.</param>
    /// <returns>The kept channels and the consumer's new weights.</returns>
    /// <exception cref="ArgumentException">The request is inconsistent; the message names the layer, the argument and the sizes.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    LayerPruningResult Prune(LayerPruningRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Whether <see cref="Prune"/> reads <see cref="LayerPruningRequest.PatchStatistics"/> (false unless the
    /// implementation says otherwise). Callers collect those larger statistics only when it does.
    /// </summary>
    bool UsesPatchStatistics => false;

    /// <summary>
    /// Whether <see cref="Prune"/> would read patch statistics of this size for one layer (by default, whenever
    /// <see cref="UsesPatchStatistics"/> is true). Patch statistics are (C·P)² sums, gigabytes for a classifier
    /// that reads a large feature map, so callers skip collecting them when this is false.
    /// </summary>
    /// <param name="channels">C: the layer's output channels.</param>
    /// <param name="patchFeatures">C·P: the features of one patch (P positions per channel).</param>
    /// <param name="patchSamples">How many patch samples the caller would collect.</param>
    /// <param name="keepCount">C′: how many channels will be kept.</param>
    bool UsesPatchStatisticsFor(int channels, int patchFeatures, long patchSamples, int keepCount) => UsesPatchStatistics;

    /// <summary>
    /// Whether <see cref="Prune"/> reads <see cref="LayerPruningRequest.ProducerWeights"/> (true unless the
    /// implementation says otherwise). Callers build that copy of the producer's weights only when it does: for a
    /// classifier layer it is hundreds of megabytes in float64.
    /// </summary>
    bool UsesProducerWeights => true;
}
