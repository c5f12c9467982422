namespace Ldrf;

/// <summary>
/// Prunes the channels of one layer and rebuilds its consumer. LDRF is one implementation
/// (<see cref="LdrfLayerPruner"/>); baselines such as selection plus least squares
/// (<see cref="LeastSquaresLayerPruner"/>) are others.
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
}
