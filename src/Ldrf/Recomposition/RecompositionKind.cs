namespace Ldrf.Recomposition;

/// <summary>What the ridge regression of LDRF's recomposition reads from the survivors.</summary>
public enum RecompositionKind
{
    /// <summary>
    /// The survivors' channels, pixel by pixel: recover the embedding Qᵀa from a′_S with the channel Grams
    /// (docs/method.md, section 3). Needs only <see cref="LayerPruningRequest.Statistics"/>.
    /// </summary>
    Channel,

    /// <summary>
    /// The survivors' whole k x k patches: recover the consumer's response read through the embedding,
    /// (Q R)ᵀ p, from the pruned patches p′_S, so that a survivor at one kernel position can stand in for a
    /// discarded neighbour at another. Uses <see cref="LayerPruningRequest.PatchStatistics"/> when given with
    /// enough samples (<see cref="LdrfLayerPruner.MinimumSamplesPerUnknown"/>) and falls back to
    /// <see cref="Channel"/> otherwise. With the full rank it rebuilds the consumer as Channel
    /// Pruning's least squares does; the selection and the embedding are LDRF's.
    /// </summary>
    Patch,
}
