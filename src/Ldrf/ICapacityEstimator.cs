namespace Ldrf;

/// <summary>
/// Estimates a layer's valid capacity r without pruning it: how many channels carry what the consumer reads. A width
/// allocator keeps at least r channels per layer when capacity bounds are on. <see cref="LdrfLayerPruner"/> implements
/// it through its decomposer; a layer pruner without a capacity notion (the baselines) does not.
/// </summary>
public interface ICapacityEstimator
{
    /// <summary>Estimates the valid capacity of one layer.</summary>
    /// <param name="request">The layer's weights and statistics; <see cref="LayerPruningRequest.KeepCount"/> and <see cref="LayerPruningRequest.PatchStatistics"/> are not read.</param>
    /// <param name="cancellationToken">Cancels before the decomposition.</param>
    /// <returns>r, between 1 and the layer's channel count.</returns>
    /// <exception cref="ArgumentException">The request is inconsistent; the message names the layer.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    int EstimateCapacity(LayerPruningRequest request, CancellationToken cancellationToken = default);
}
